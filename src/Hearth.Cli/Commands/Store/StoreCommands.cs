using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Hearth.Store;
using Spectre.Console;

namespace Hearth.Cli.Commands.Store;

/// <summary><c>hearth pull SOURCE [--name NAME] [--sha256 HEX]</c>: downloads (or adds) a model into the store, resumable and verified.</summary>
internal static class PullCommand
{
    public static Command Create(CliContext context)
    {
        var source = new Argument<string>("SOURCE")
        {
            Description = "./model.gguf, https://host/file.gguf, hf.co/ORG/REPO[:QUANT], hf.co/ORG/REPO/FILE.gguf or ollama.com/[NS/]NAME[:TAG]",
        };
        var name = new Option<string?>("--name") { Description = "Store the model under this name[:tag]" };
        var sha = new Option<string?>("--sha256") { Description = "Expected SHA-256 of the model file (pin)" };
        var command = new Command("pull", "Download a model into the local store (resumes, verifies; contacts only the host named)") { source, name, sha };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var (config, store) = StoreCli.Open(context);
            using var audit = StoreCli.OpenAudit(config);
            var puller = new ModelPuller(store, config, context.Environment, audit);
            var result = await StoreCli.WithProgressAsync(context, (progress, log) => puller.PullAsync(parse.GetValue(source)!,
                new PullOptions { Name = parse.GetValue(name), Sha256 = parse.GetValue(sha), Progress = progress, Log = log }, cancellationToken));
            var m = result.Manifest;
            context.Raw.WriteLine($"pulled {m.Reference}: {StoreCli.Bytes(m.Size)}, {m.Architecture ?? "unknown architecture"}, {m.FileType ?? "unknown type"}, {m.Layers[0].Digest}");
            context.Raw.WriteLine($"  {result.ModelPath}");
            return 0;
        });
        return command;
    }
}

/// <summary><c>hearth list [--json]</c>: the models in the store.</summary>
internal static class ListCommand
{
    public static Command Create(CliContext context)
    {
        var json = new Option<bool>("--json") { Description = "Print a JSON array" };
        var command = new Command("list", "List the models in the local store") { json };
        command.Aliases.Add("ls");
        command.SetAction(parse =>
        {
            var (_, store) = StoreCli.Open(context);
            var models = store.ReadAll().Select(x => ModelInfo.From(store, x.Manifest)).ToList();
            if (parse.GetValue(json))
            {
                context.Raw.WriteLine(JsonSerializer.Serialize(models, StoreCliJsonContext.Default.ListModelInfo));
                return 0;
            }

            if (models.Count == 0)
            {
                context.Raw.WriteLine($"no models in {store.Root}; add one with 'hearth pull' or 'hearth import'");
                return 0;
            }

            var table = new Table().Border(TableBorder.Simple).AddColumns("NAME", "SIZE", "QUANT", "ARCH", "SOURCE", "LAST USED");
            foreach (var m in models)
            {
                table.AddRow(Markup.Escape(m.Name), StoreCli.Bytes(m.Size), Markup.Escape(m.Quantization ?? "-"), Markup.Escape(m.Architecture ?? "-"),
                    Markup.Escape(m.SourceKind), m.LastUsed?.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture) ?? "never");
            }

            context.Console.Write(table);
            return 0;
        });
        return command;
    }
}

/// <summary><c>hearth show NAME [--json]</c>: one model's manifest, files and metadata.</summary>
internal static class ShowCommand
{
    public static Command Create(CliContext context)
    {
        var name = new Argument<string>("NAME") { Description = "Model reference (name[:tag])" };
        var json = new Option<bool>("--json") { Description = "Print JSON" };
        var command = new Command("show", "Show a stored model: files, digests, source, metadata") { name, json };
        command.SetAction(parse =>
        {
            var (_, store) = StoreCli.Open(context);
            var reference = parse.GetValue(name)!;
            var found = store.Find(reference) ?? throw new CliException($"model '{reference}' is not in the store ({store.Root}); 'hearth list' shows what is");
            var info = ModelInfo.From(store, found.Manifest);
            if (parse.GetValue(json))
            {
                context.Raw.WriteLine(JsonSerializer.Serialize(info, StoreCliJsonContext.Default.ModelInfo));
                return 0;
            }

            var w = context.Raw;
            w.WriteLine($"name:         {info.Name}");
            w.WriteLine($"path:         {info.Path}");
            w.WriteLine($"size:         {StoreCli.Bytes(info.Size)} ({info.Size} bytes)");
            w.WriteLine($"architecture: {info.Architecture ?? "-"}");
            w.WriteLine($"quantization: {info.Quantization ?? "-"}");
            w.WriteLine($"parameters:   {info.Parameters?.ToString("N0", CultureInfo.InvariantCulture) ?? "-"}");
            w.WriteLine($"source:       {info.SourceKind} {info.Source}");
            w.WriteLine($"pulled at:    {info.PulledAt:u}");
            w.WriteLine($"last used:    {(info.LastUsed is { } u ? u.ToString("u", CultureInfo.InvariantCulture) : "never")}");
            foreach (var l in info.Layers)
                w.WriteLine($"layer:        {l.Role} {l.Digest} {StoreCli.Bytes(l.Size)} {l.FileName}{(l.External ? " (external: " + l.Path + ")" : "")}");
            foreach (var (key, value) in info.Metadata)
                w.WriteLine($"{key}:{new string(' ', Math.Max(1, 13 - key.Length))}{value.ReplaceLineEndings(" ")}");
            return 0;
        });
        return command;
    }
}

/// <summary><c>hearth rm NAME</c>: removes a model; blobs no other model uses are deleted.</summary>
internal static class RemoveCommand
{
    public static Command Create(CliContext context)
    {
        var name = new Argument<string>("NAME") { Description = "Model reference (name[:tag])" };
        var command = new Command("rm", "Remove a model from the store (its unshared blobs are deleted)") { name };
        command.SetAction(parse =>
        {
            var (_, store) = StoreCli.Open(context);
            var result = store.Remove(parse.GetValue(name)!);
            context.Raw.WriteLine(result.Collected is { } gc
                ? $"removed {result.Reference}; freed {StoreCli.Bytes(gc.BytesFreed)} ({gc.RemovedBlobs.Count} unreferenced blob{(gc.RemovedBlobs.Count == 1 ? "" : "s")})"
                : $"removed {result.Reference}; the store is busy (a pull or import is running), so its data will be freed by 'hearth gc'");
            return 0;
        });
        return command;
    }
}

/// <summary><c>hearth verify [NAME]</c>: re-hashes model data and reports corruption (exit 1 when any).</summary>
internal static class VerifyCommand
{
    public static Command Create(CliContext context)
    {
        var name = new Argument<string?>("NAME") { Description = "Model reference; all models when omitted", Arity = ArgumentArity.ZeroOrOne };
        var command = new Command("verify", "Re-hash stored models and report corrupt or missing data") { name };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var (_, store) = StoreCli.Open(context);
            var results = await store.VerifyAsync(parse.GetValue(name), cancellationToken: cancellationToken);
            foreach (var r in results)
            {
                context.Raw.WriteLine(r.Status switch
                {
                    VerifyStatus.Ok => $"ok       {r.Reference} {r.Path}",
                    VerifyStatus.Missing => $"MISSING  {r.Reference} {r.Path}",
                    _ => $"CORRUPT  {r.Reference} {r.Path}: sha256 is {r.ActualHex}, expected {r.ExpectedHex}",
                });
            }

            var bad = results.Count(r => r.Status != VerifyStatus.Ok);
            if (bad > 0)
                throw new CliException($"{bad} of {results.Count} file{(results.Count == 1 ? "" : "s")} failed verification; pull the affected models again");
            context.Raw.WriteLine($"{results.Count} file{(results.Count == 1 ? "" : "s")} verified");
            return 0;
        });
        return command;
    }
}

/// <summary><c>hearth du</c>: disk use of the store, shared blobs counted once.</summary>
internal static class DiskUsageCommand
{
    public static Command Create(CliContext context)
    {
        var command = new Command("du", "Show the store's disk use (shared blobs counted once)");
        command.SetAction(parse =>
        {
            var (_, store) = StoreCli.Open(context);
            var u = store.Usage();
            var w = context.Raw;
            w.WriteLine($"store:        {store.Root}");
            w.WriteLine($"blobs:        {StoreCli.Bytes(u.BlobBytes)} in {u.BlobCount} blob{(u.BlobCount == 1 ? "" : "s")}");
            w.WriteLine($"unreferenced: {StoreCli.Bytes(u.UnreferencedBytes)} (freed by 'hearth gc')");
            w.WriteLine($"external:     {StoreCli.Bytes(u.ExternalBytes)} (imported files referenced in place, not in the store)");
            w.WriteLine($"partial:      {StoreCli.Bytes(u.PartialBytes)} (interrupted downloads, resumed by the next pull)");
            foreach (var m in u.Models)
                w.WriteLine($"  {m.Reference}: own {StoreCli.Bytes(m.OwnBytes)}, shared {StoreCli.Bytes(m.SharedBytes)}, external {StoreCli.Bytes(m.ExternalBytes)}");
            return 0;
        });
        return command;
    }
}

/// <summary><c>hearth gc</c>: deletes blobs no model references.</summary>
internal static class GcCommand
{
    public static Command Create(CliContext context)
    {
        var command = new Command("gc", "Delete blobs that no model references");
        command.SetAction(parse =>
        {
            var (_, store) = StoreCli.Open(context);
            var r = store.CollectGarbage();
            context.Raw.WriteLine($"removed {r.RemovedBlobs.Count} unreferenced blob{(r.RemovedBlobs.Count == 1 ? "" : "s")}, freed {StoreCli.Bytes(r.BytesFreed)}");
            return 0;
        });
        return command;
    }
}

/// <summary><c>hearth import [PATH] [--from ollama|lmstudio|hf|dir]</c>: registers models already on disk without copying them.</summary>
internal static class ImportCommand
{
    public static Command Create(CliContext context)
    {
        var path = new Argument<string?>("PATH") { Description = "Folder to import; the default locations of Ollama, LM Studio and the HF cache when omitted", Arity = ArgumentArity.ZeroOrOne };
        var from = new Option<string?>("--from") { Description = "Layout: ollama, lmstudio, hf or dir (detected when omitted)" };
        from.AcceptOnlyFromAmong("ollama", "lmstudio", "hf", "dir");
        var command = new Command("import", "Register models already on disk (Ollama, LM Studio, HF cache, a folder) by hard link or reference, never a copy") { path, from };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var (_, store) = StoreCli.Open(context);
            var importer = new ModelImporter(store, context.Environment) { Log = line => context.Error.Profile.Out.Writer.WriteLine(line) };
            var layout = parse.GetValue(from) switch
            {
                "ollama" => ImportLayout.Ollama,
                "lmstudio" => ImportLayout.LmStudio,
                "hf" => ImportLayout.HuggingFace,
                "dir" => ImportLayout.Directory,
                _ => (ImportLayout?)null,
            };
            var folder = parse.GetValue(path);
            List<(ImportLayout Layout, string Path)> sources = folder is not null
                ? [(layout ?? ModelImporter.Detect(folder), folder)]
                : importer.DiscoverDefaults().Where(d => layout is null || d.Layout == layout).ToList();
            if (sources.Count == 0)
                throw new CliException("found no Ollama, LM Studio or Hugging Face model folders in their default places; give a PATH");
            var imported = 0;
            foreach (var (kind, dir) in sources)
            {
                var result = await importer.ImportAsync(kind, dir, cancellationToken);
                foreach (var m in result.Imported)
                {
                    var how = m.Mode switch
                    {
                        AddMode.HardLinked => "hard link",
                        AddMode.ExternalReference => "reference",
                        AddMode.AlreadyPresent => "already stored",
                        _ => "copy",
                    };
                    context.Raw.WriteLine($"imported {m.Reference} ({StoreCli.Bytes(m.Size)}, {how}) from {m.SourcePath}");
                }

                foreach (var s in result.Skipped)
                    context.Raw.WriteLine($"skipped {s.Path}: {s.Reason}");
                imported += result.Imported.Count;
            }

            context.Raw.WriteLine($"{imported} model{(imported == 1 ? "" : "s")} imported");
            return 0;
        });
        return command;
    }
}
