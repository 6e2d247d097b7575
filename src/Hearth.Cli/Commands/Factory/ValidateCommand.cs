using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Hearth.Factory;
using Spectre.Console;

namespace Hearth.Cli.Commands.Factory;

/// <summary><c>hearth factory validate MODEL [--reference REF] [--text FILE]</c>: smoke prompts, perplexity, KL divergence.</summary>
internal static class ValidateCommand
{
    public static Command Create(CliContext context)
    {
        var model = new Argument<FileInfo>("MODEL") { Description = "GGUF model to validate" };
        var reference = new Option<FileInfo?>("--reference", "-r") { Description = "Reference model (e.g. the unquantized source): KL divergence and top-1 agreement" };
        var text = new Option<FileInfo?>("--text", "-f") { Description = "Text file for perplexity (llama-perplexity's method)" };
        var ctx = new Option<int>("--context", "-c") { Description = "Context size per chunk (default 128)", DefaultValueFactory = _ => 128 };
        ctx.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() < 4)
                r.AddError("--context must be at least 4");
        });
        var maxKl = new Option<double?>("--max-kl") { Description = "Fail when the mean KL divergence exceeds this" };
        var minTop1 = new Option<double?>("--min-top1") { Description = "Fail when top-1 agreement (percent) is below this" };
        var maxPpl = new Option<double?>("--max-ppl-ratio") { Description = "Fail when PPL(model)/PPL(reference) exceeds this" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var command = new Command("validate", "Check a model: smoke prompts, perplexity on a text, KL divergence and top-1 agreement against a reference")
        {
            model, reference, text, ctx, maxKl, minTop1, maxPpl, json,
        };
        command.SetAction((parse, cancellationToken) =>
        {
            var m = parse.GetValue(model)!;
            var thresholds = new ValidationThresholds(parse.GetValue(maxKl), parse.GetValue(minTop1), parse.GetValue(maxPpl));
            return Task.FromResult(Run(context, m.FullName, parse.GetValue(reference)?.FullName, parse.GetValue(text)?.FullName, parse.GetValue(ctx), thresholds,
                parse.GetValue(json), cancellationToken));
        });
        return command;
    }

    /// <summary>Validates and prints; returns 0, or 1 when a threshold is missed.</summary>
    internal static int Run(CliContext context, string modelPath, string? referencePath, string? textPath, int contextSize, ValidationThresholds thresholds,
        bool json, CancellationToken cancellationToken)
    {
        foreach (var p in new[] { modelPath, referencePath, textPath })
        {
            if (p is not null && !File.Exists(p))
                throw new CliException($"file not found: {p}");
        }
        if (thresholds.Any && (referencePath is null || textPath is null))
            throw new CliException("--max-kl, --min-top1 and --max-ppl-ratio need a reference model and a text (--reference, --text)");
        var text = textPath is null ? null : File.ReadAllText(textPath);
        ValidationReport report;
        try
        {
            report = ModelValidator.Validate(modelPath, referencePath, text, contextSize, thresholds, cancellationToken: cancellationToken);
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidDataException or Hearth.Engine.Model.ModelLoadException)
        {
            throw new CliException($"{Path.GetFileName(modelPath)}: {ex.Message}");
        }

        if (json)
        {
            context.Raw.WriteLine(JsonSerializer.Serialize(report, ValidateJsonContext.Default.ValidationReport));
        }
        else
        {
            foreach (var s in report.Smoke)
                context.Console.MarkupLineInterpolated($"[grey]smoke[/] {s.Prompt}[blue]{s.Continuation}[/]");
            if (report.Perplexity is { } p)
                context.Console.MarkupLine(string.Create(CultureInfo.InvariantCulture, $"perplexity: [bold]{p.Perplexity:0.####}[/] +/- {p.Uncertainty:0.#####} ({p.Chunks} chunks of {p.Context}, {p.ScoredTokens} tokens scored)"));
            if (report.Divergence is { } d)
            {
                context.Console.MarkupLine(string.Create(CultureInfo.InvariantCulture, $"reference perplexity: {d.Reference.Perplexity:0.####} +/- {d.Reference.Uncertainty:0.#####}"));
                context.Console.MarkupLine(string.Create(CultureInfo.InvariantCulture, $"mean KL divergence: [bold]{d.MeanKl:0.######}[/] +/- {d.KlUncertainty:0.######} (max {d.MaxKl:0.######})"));
                context.Console.MarkupLine(string.Create(CultureInfo.InvariantCulture, $"same top token: [bold]{d.Top1Percent:0.###} %[/]"));
            }
            if (text is null)
                context.Console.MarkupLine("[grey]no --text given: perplexity and KL divergence not measured[/]");
            foreach (var f in report.Failures)
                context.Console.MarkupLineInterpolated($"[red]failed:[/] {f}");
            if (report.Failures.Count == 0 && thresholds.Any)
                context.Console.MarkupLine("[green]all thresholds met[/]");
        }
        if (report.Failures.Count > 0)
            throw new CliException("validation failed: " + string.Join("; ", report.Failures));
        return 0;
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[JsonSerializable(typeof(ValidationReport))]
internal sealed partial class ValidateJsonContext : JsonSerializerContext;
