using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Hearth.Gguf;
using Spectre.Console;

namespace Hearth.Cli.Commands.Inspect;

/// <summary><c>hearth inspect FILE [--json] [--tensors] [--context N]</c>: a GGUF file, for people.</summary>
internal static class InspectCommand
{
    public static Command Create(CliContext context)
    {
        var file = new Argument<FileInfo>("FILE") { Description = "GGUF file to inspect" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object (field names documented in README)" };
        var tensors = new Option<bool>("--tensors") { Description = "List every tensor: name, shape, type, bytes" };
        var ctx = new Option<long?>("--context", "-c") { Description = "Context length for the memory estimate (default: the model's, at most 4096)" };
        ctx.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<long?>() is <= 0)
                r.AddError("--context must be a positive number of tokens");
        });
        var command = new Command("inspect", "Show what a GGUF model file holds: architecture, size, quantization mix, shape, tokenizer, memory needed")
        {
            file, json, tensors, ctx,
        };
        command.SetAction(parse =>
        {
            var path = parse.GetValue(file)!;
            if (!path.Exists)
                throw new CliException($"file not found: {path.FullName}");
            using var gguf = GgufFile.Open(path.FullName);
            InspectReport report;
            try
            {
                report = InspectReport.From(path.FullName, gguf, parse.GetValue(ctx), parse.GetValue(tensors));
            }
            catch (Hearth.Engine.Model.ModelLoadException ex)
            {
                throw new CliException(ex.Message);
            }
            if (parse.GetValue(json))
                context.Raw.WriteLine(JsonSerializer.Serialize(report, InspectJsonContext.Default.InspectReport));
            else
                Render(context.Console, report);
            return 0;
        });
        return command;
    }

    private static void Render(IAnsiConsole console, InspectReport r)
    {
        var grid = new Grid().AddColumn(new GridColumn().NoWrap().PadRight(2)).AddColumn();
        void Row(string key, string? value) => grid.AddRow(new Markup($"[grey]{key}[/]"), new Text(value ?? "-"));
        Row("file", r.File);
        Row("size", $"{Bytes(r.FileSize)} (GGUF v{r.GgufVersion})");
        Row("architecture", r.Architecture);
        if (r.Name is not null)
            Row("name", r.Name);
        if (r.Kind is not null and not "model")
            Row("kind", r.Kind);
        Row("parameters", $"{Count(r.Parameters)} in {r.TensorCount} tensors");
        if (r.FileType is not null)
            Row("file type", r.FileType);
        Row("quantization", string.Join(", ", r.Quantization.Select(q => $"{q.Type} {q.Share * 100:0.#}%")));
        Row("context length", r.ContextLength?.ToString(CultureInfo.InvariantCulture));
        Row("layers", r.BlockCount?.ToString(CultureInfo.InvariantCulture));
        Row("embedding", r.EmbeddingLength?.ToString(CultureInfo.InvariantCulture));
        Row("heads / kv heads", r.HeadCount is null ? null : $"{r.HeadCount} / {r.HeadCountKv} (head dim {r.HeadDim})");
        Row("vocabulary", r.VocabSize is null ? null : $"{r.VocabSize} tokens, {TokenizerKind(r.TokenizerModel)}{(r.TokenizerPre is null ? "" : $", pre-tokenizer {r.TokenizerPre}")}");
        Row("chat template", r.ChatTemplate ? "yes" : "no");
        Row("memory to load", $"{Bytes(r.Memory.TotalBytes)} = weights {Bytes(r.Memory.WeightsBytes)} + KV cache {Bytes(r.Memory.KvCacheBytes)} (F16, {r.Memory.Context} tokens)");
        if (r.Split is { } split)
        {
            Row("split", split.Part == 1
                ? $"part 1 of {split.Count}; the other parts hold {split.OtherTensors} more tensors, {Bytes(split.OtherBytes)} (the figures above are this part's)"
                : $"part {split.Part} of {split.Count}; inspect part 1 for the model's metadata");
        }
        console.Write(grid);

        if (r.BundleDomains is { } domains)
        {
            console.MarkupLine($"[bold]Hearth bundle[/]: {domains.Count} domain(s), one base model, adapters switched per request");
            var table = new Table().Border(TableBorder.Simple).AddColumn("domain").AddColumn("adapter").AddColumn("policy")
                .AddColumn(new TableColumn("examples").RightAligned()).AddColumn("description");
            foreach (var d in domains)
            {
                var adapter = d.AdapterTensors == 0 ? "base model"
                    : string.Create(CultureInfo.InvariantCulture, $"{d.Adapter ?? "LoRA"}: {d.AdapterTensors} tensors, {Bytes(d.AdapterBytes)}, alpha {d.Alpha}, scale {d.Scale}");
                table.AddRow(new Text(d.Name), new Text(adapter), new Text(d.Policy ?? "-"), new Text(d.Examples.ToString(CultureInfo.InvariantCulture)),
                    new Text((d.Description ?? "-") + (d.Empathetic ? " (empathetic)" : "")));
            }
            console.Write(table);
        }

        if (r.Tensors is { } list)
        {
            var table = new Table().Border(TableBorder.Simple)
                .AddColumn("name").AddColumn("shape").AddColumn("type").AddColumn(new TableColumn("bytes").RightAligned());
            foreach (var t in list)
                table.AddRow(new Text(t.Name), new Text("[" + string.Join(", ", t.Shape) + "]"), new Text(t.Type), new Text(t.Bytes.ToString("N0", CultureInfo.InvariantCulture)));
            console.Write(table);
        }
    }

    private static string TokenizerKind(string? model) => model switch
    {
        "llama" => "SentencePiece (llama)",
        "gpt2" => "BPE (gpt2)",
        "bert" => "WordPiece (bert)",
        null => "no tokenizer",
        _ => model,
    };

    internal static string Bytes(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        double v = bytes;
        var u = 0;
        while (v >= 1024 && u < units.Length - 1)
        {
            v /= 1024;
            u++;
        }
        return u == 0 ? $"{bytes} B" : string.Create(CultureInfo.InvariantCulture, $"{v:0.##} {units[u]}");
    }

    private static string Count(long n) => n switch
    {
        >= 1_000_000_000 => string.Create(CultureInfo.InvariantCulture, $"{n / 1e9:0.##}B"),
        >= 1_000_000 => string.Create(CultureInfo.InvariantCulture, $"{n / 1e6:0.##}M"),
        >= 1_000 => string.Create(CultureInfo.InvariantCulture, $"{n / 1e3:0.##}K"),
        _ => n.ToString(CultureInfo.InvariantCulture),
    };
}
