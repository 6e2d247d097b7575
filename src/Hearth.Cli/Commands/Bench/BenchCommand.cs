using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Hearth.Cli.Commands.Inspect;
using Hearth.Engine.Model;
using Hearth.Engine.Runtime;
using Spectre.Console;

namespace Hearth.Cli.Commands.Bench;

/// <summary>
/// <c>hearth bench (--model FILE | --shape NAME --type MIX) [-p 512] [-n 128] [-t THREADS] [-r REPS] [--json]</c>:
/// prompt-processing and generation speed, like llama-bench.
/// </summary>
internal static class BenchCommand
{
    public static Command Create(CliContext context)
    {
        var model = new Option<FileInfo?>("--model", "-m") { Description = "GGUF model file to measure" };
        var shape = new Option<string?>("--shape") { Description = $"Synthesize a model of this shape with random weights ({string.Join(", ", ModelShape.Known.Select(s => s.Name))})" };
        var type = new Option<string>("--type") { Description = $"Weights of the synthesized model ({string.Join(", ", SyntheticModel.Mixes)})", DefaultValueFactory = _ => "q4_k_m" };
        var prompt = new Option<int>("-p", "--prompt-tokens") { Description = "Prompt tokens (pp test; 0 = skip)", DefaultValueFactory = _ => 512 };
        var gen = new Option<int>("-n", "--gen-tokens") { Description = "Generated tokens (tg test; 0 = skip)", DefaultValueFactory = _ => 128 };
        var threads = new Option<int>("-t", "--threads") { Description = "Threads (0 = physical cores)", DefaultValueFactory = _ => 0 };
        var reps = new Option<int>("-r", "--repetitions") { Description = "Repetitions", DefaultValueFactory = _ => 3 };
        var bandwidth = new Option<int>("--bandwidth-mib")
        {
            Description = "Also measure memory read bandwidth with a buffer of this many MiB and report generation against its ceiling (0 = skip)",
            DefaultValueFactory = _ => 1024,
        };
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        foreach (var o in new[] { prompt, gen, threads, bandwidth })
            o.Validators.Add(r => { if (r.GetValueOrDefault<int>() < 0) r.AddError($"{o.Name} must be 0 or more"); });
        reps.Validators.Add(r => { if (r.GetValueOrDefault<int>() < 1) r.AddError("--repetitions must be at least 1"); });

        var command = new Command("bench", "Measure prompt-processing (pp) and generation (tg) tokens/s of a model on this machine")
        {
            model, shape, type, prompt, gen, threads, reps, bandwidth, json,
        };
        command.Validators.Add(r =>
        {
            var hasModel = r.GetValue(model) is not null;
            var hasShape = r.GetValue(shape) is not null;
            if (hasModel == hasShape)
                r.AddError("give either --model FILE or --shape NAME");
        });
        command.SetAction(parse =>
        {
            string path;
            string? temp = null;
            if (parse.GetValue(model) is { } file)
            {
                if (!file.Exists)
                    throw new CliException($"model file not found: {file.FullName}");
                path = file.FullName;
            }
            else
            {
                ModelShape s;
                try
                {
                    s = ModelShape.Get(parse.GetValue(shape)!);
                }
                catch (ArgumentException ex)
                {
                    throw new CliException(ex.Message);
                }
                var mix = parse.GetValue(type)!.ToLowerInvariant();
                if (!SyntheticModel.Mixes.Contains(mix))
                    throw new CliException($"unknown --type '{mix}' (known: {string.Join(", ", SyntheticModel.Mixes)})");
                temp = Path.Combine(Path.GetTempPath(), $"hearth-bench-{s.Name}-{mix}-{Guid.NewGuid():N}.gguf");
                context.Error.Profile.Out.Writer.WriteLine($"synthesizing {s.Name} ({mix}) with random weights...");
                SyntheticModel.Write(temp, s, mix);
                path = temp;
            }
            try
            {
                using var m = TransformerModel.Load(path);
                var result = EngineBenchmark.Run(m, parse.GetValue(prompt), parse.GetValue(gen), parse.GetValue(threads), parse.GetValue(reps));
                var name = parse.GetValue(shape) is { } sh ? $"{sh} {parse.GetValue(type)} (synthetic)" : Path.GetFileName(path);
                BandwidthFigure? ceiling = null;
                if (parse.GetValue(bandwidth) is > 0 and var mib && result.GeneratedTokens > 0)
                {
                    // Same thread count as the generation test: the ceiling that run could have reached.
                    var bw = MemoryBandwidth.Measure(mib * 1048576L, result.Threads);
                    var max = bw.CeilingTokensPerSecond(result.WeightBytes);
                    ceiling = new BandwidthFigure(bw.BytesPerSecond / 1e9, result.Generation.Mean * result.WeightBytes / 1e9, max, result.Generation.Mean / max);
                }
                var report = new BenchReport(name, result.WeightBytes, result.Threads, result.PromptTokens, result.GeneratedTokens,
                    new BenchFigure(result.Prompt.Mean, result.Prompt.StdDev), new BenchFigure(result.Generation.Mean, result.Generation.StdDev),
                    result.AllocatedBytesPerToken, ceiling);
                if (parse.GetValue(json))
                {
                    context.Raw.WriteLine(JsonSerializer.Serialize(report, BenchJsonContext.Default.BenchReport));
                }
                else
                {
                    var table = new Table().Border(TableBorder.Simple)
                        .AddColumn("model").AddColumn("size").AddColumn("threads").AddColumn("test").AddColumn(new TableColumn("t/s").RightAligned());
                    if (report.PromptTokens > 0)
                        table.AddRow(new Text(name), new Text(InspectCommand.Bytes(report.WeightBytes)), new Text(report.Threads.ToString(CultureInfo.InvariantCulture)), new Text($"pp{report.PromptTokens}"), new Text(Fmt(report.Prompt)));
                    if (report.GeneratedTokens > 0)
                        table.AddRow(new Text(name), new Text(InspectCommand.Bytes(report.WeightBytes)), new Text(report.Threads.ToString(CultureInfo.InvariantCulture)), new Text($"tg{report.GeneratedTokens}"), new Text(Fmt(report.Generation)));
                    context.Console.Write(table);
                    if (report.Bandwidth is { } c)
                        context.Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                            $"memory read bandwidth {c.MemoryGBs:F1} GB/s → generation ceiling {c.CeilingTokensPerSecond:F2} tok/s; tg reached {c.CeilingRatio:P0} of it ({c.EffectiveGBs:F1} GB/s of weights)"));
                }
            }
            finally
            {
                if (temp is not null)
                    File.Delete(temp);
            }
            return 0;
        });
        return command;
    }

    private static string Fmt(BenchFigure f) => string.Create(CultureInfo.InvariantCulture, $"{f.Mean:F2} ± {f.StdDev:F2}");
}

/// <summary>JSON shape of <c>hearth bench --json</c>.</summary>
internal sealed record BenchReport(string Model, long WeightBytes, int Threads, int PromptTokens, int GeneratedTokens, BenchFigure Prompt, BenchFigure Generation, long AllocatedBytesPerToken, BandwidthFigure? Bandwidth);

/// <summary>
/// Generation against the memory-bandwidth ceiling: measured read bandwidth (GB/s), the weight bytes generation read per
/// second, the most tokens/s that bandwidth allows (bandwidth ÷ weight bytes), and the fraction of it reached.
/// </summary>
internal sealed record BandwidthFigure(
    [property: JsonPropertyName("memory_gbs")] double MemoryGBs,
    [property: JsonPropertyName("effective_gbs")] double EffectiveGBs,
    double CeilingTokensPerSecond,
    double CeilingRatio);

/// <summary>Tokens per second: mean and standard deviation over repetitions.</summary>
internal sealed record BenchFigure(double Mean, double StdDev);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[JsonSerializable(typeof(BenchReport))]
internal sealed partial class BenchJsonContext : JsonSerializerContext;
