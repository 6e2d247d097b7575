using System.CommandLine;
using System.Globalization;
using Hearth.Cli.Commands.Inspect;
using Hearth.Factory;
using Hearth.Engine.Kernels;
using Hearth.Gguf;
using Spectre.Console;

namespace Hearth.Cli.Commands.Factory;

/// <summary><c>hearth factory quantize|merge|validate|bundle</c>: build a deployable model from a base model and adapters.</summary>
internal static class FactoryCommand
{
    public static Command Create(CliContext context) => new("factory", "Build deployable models: quantize, merge LoRA adapters, validate, bundle")
    {
        QuantizeCommand(context),
        MergeCommand.Create(context),
        ValidateCommand.Create(context),
        BundleCommand.Create(context),
    };

    private static Command QuantizeCommand(CliContext context)
    {
        var input = new Argument<FileInfo>("IN") { Description = "Source GGUF model (F32, F16 or BF16 weights)" };
        var output = new Argument<FileInfo>("OUT") { Description = "GGUF file to write" };
        var type = new Option<string>("--type", "-t")
        {
            Description = "Target: " + QuantizeFileType.ValidNames + " (Q4_K, Q5_K, Q3_K mean the _M mixes, as in llama-quantize)",
            Required = true,
        };
        var threads = new Option<int>("--threads") { Description = "Worker threads (default: one per processor); the output does not depend on it" };
        threads.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() < 0)
                r.AddError("--threads must be 0 or more");
        });
        var tokenType = new Option<string?>("--token-embedding-type") { Description = "Tensor type for token_embd.weight (e.g. q4_0, q8_0, f16)" };
        var outputType = new Option<string?>("--output-tensor-type") { Description = "Tensor type for output.weight" };
        var pure = new Option<bool>("--pure") { Description = "Every quantizable weight gets the type's base type (no per-layer mix)" };
        var requantize = new Option<bool>("--allow-requantize") { Description = "Allow already-quantized source tensors (quality suffers)" };
        var validate = new Option<bool>("--validate") { Description = "Validate the output against the source afterwards (see factory validate)" };
        var text = new Option<FileInfo?>("--text") { Description = "Text for --validate's perplexity and KL divergence" };
        var maxKl = new Option<double?>("--max-kl") { Description = "--validate fails when the mean KL divergence exceeds this" };
        var minTop1 = new Option<double?>("--min-top1") { Description = "--validate fails when top-1 agreement (percent) is below this" };
        var maxPpl = new Option<double?>("--max-ppl-ratio") { Description = "--validate fails when PPL(output)/PPL(source) exceeds this" };
        var ctx = new Option<int>("--context", "-c") { Description = "Context size for --validate (default 128)", DefaultValueFactory = _ => 128 };

        var command = new Command("quantize", "Quantize a GGUF model exactly as llama-quantize does (same bytes)")
        {
            input, output, type, threads, tokenType, outputType, pure, requantize, validate, text, maxKl, minTop1, maxPpl, ctx,
        };
        command.SetAction((parse, cancellationToken) =>
        {
            var src = parse.GetValue(input)!;
            if (!src.Exists)
                throw new CliException($"file not found: {src.FullName}");
            if (!QuantizeFileType.TryParse(parse.GetValue(type), out var fileType))
                throw new CliException($"unknown type '{parse.GetValue(type)}'; valid types: {QuantizeFileType.ValidNames}");
            var options = new QuantizeOptions
            {
                Threads = parse.GetValue(threads),
                TokenEmbeddingType = TensorType(parse.GetValue(tokenType), "--token-embedding-type"),
                OutputTensorType = TensorType(parse.GetValue(outputType), "--output-tensor-type"),
                Pure = parse.GetValue(pure),
                AllowRequantize = parse.GetValue(requantize),
            };
            var dst = parse.GetValue(output)!.FullName;
            QuantizeResult result;
            try
            {
                result = WithProgress(context, "quantize " + fileType.Name, report =>
                    ModelQuantizer.Quantize(src.FullName, dst, fileType, options, new SyncProgress<QuantizeProgress>(p => report(p.BytesDone, p.BytesTotal, p.TensorName)), cancellationToken));
            }
            catch (InvalidDataException ex)
            {
                throw new CliException($"{src.Name}: {ex.Message}");
            }
            PrintQuantizeSummary(context, src, dst, result);

            if (parse.GetValue(validate))
            {
                var thresholds = new ValidationThresholds(parse.GetValue(maxKl), parse.GetValue(minTop1), parse.GetValue(maxPpl));
                return Task.FromResult(ValidateCommand.Run(context, dst, src.FullName, parse.GetValue(text)?.FullName, parse.GetValue(ctx), thresholds, json: false, cancellationToken));
            }
            return Task.FromResult(0);
        });
        return command;
    }

    private static GgmlType? TensorType(string? name, string option)
    {
        if (name is null)
            return null;
        if (GgmlTypeTraits.TryParse(name, out var t) && GgmlQuantize.IsSupported(t.Type))
            return t.Type;
        throw new CliException($"{option}: unknown or unsupported tensor type '{name}'; valid: {string.Join(", ", GgmlQuantize.SupportedTypes.Select(x => GgmlTypeTraits.Get(x).Name))}");
    }

    private static void PrintQuantizeSummary(CliContext context, FileInfo src, string dst, QuantizeResult r)
    {
        var table = new Table().Border(TableBorder.Simple).AddColumn("type").AddColumn(new TableColumn("tensors").RightAligned());
        foreach (var g in r.Tensors.GroupBy(t => t.Target).OrderByDescending(g => g.Count()))
            table.AddRow(GgmlTypeTraits.Get(g.Key).Name, g.Count().ToString(CultureInfo.InvariantCulture));
        context.Console.Write(table);
        foreach (var t in r.Tensors.Where(t => t.Note is not null))
            context.Console.MarkupLineInterpolated($"[grey]{t.Name}: {t.Note}[/]");
        context.Console.MarkupLineInterpolated(
            $"[green]wrote[/] {dst}: {r.FileType.Name}, {InspectCommand.Bytes(r.SourceBytes)} → {InspectCommand.Bytes(r.OutputBytes)} of tensors, file {InspectCommand.Bytes(r.OutputFileSize)}, {r.Elapsed.TotalSeconds.ToString("0.00", CultureInfo.InvariantCulture)} s on {r.Threads} threads (from {src.Name})");
    }

    /// <summary>Runs <paramref name="work"/> with a progress bar on stderr (a line per second when not interactive).</summary>
    internal static T WithProgress<T>(CliContext context, string label, Func<Action<long, long, string>, T> work)
    {
        if (context.Error.Profile.Capabilities.Interactive && context.Error.Profile.Capabilities.Ansi)
        {
            return context.Error.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                .Start(ctx =>
                {
                    var task = ctx.AddTask(Markup.Escape(label), maxValue: 1);
                    return work((done, total, item) =>
                    {
                        task.MaxValue = Math.Max(1, total);
                        task.Value = done;
                        task.Description = Markup.Escape($"{label}: {item}");
                    });
                });
        }
        var writer = context.Error.Profile.Out.Writer;
        var last = DateTime.MinValue;
        return work((done, total, item) =>
        {
            var now = DateTime.UtcNow;
            if (now - last < TimeSpan.FromSeconds(1) && done < total)
                return;
            last = now;
            writer.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{label}: {(total > 0 ? 100.0 * done / total : 100):0}% ({item})"));
        });
    }

    /// <summary>An <see cref="IProgress{T}"/> that reports on the calling thread (Progress&lt;T&gt; posts to the thread pool).</summary>
    internal sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        private readonly Lock _gate = new();

        public void Report(T value)
        {
            lock (_gate)
                report(value);
        }
    }
}
