using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using Hearth.Cli.Commands.Doctor;
using Hearth.Cli.Commands.Store;
using Hearth.Configuration;
using Hearth.Store;
using Spectre.Console;

namespace Hearth.Cli.Commands.Setup;

/// <summary>
/// <c>hearth setup FILE.yaml [--json]</c>: the one-time setup step. For every model the configuration names
/// (<c>models.default</c> and each embedded domain's model) it makes the model available locally (a file path is used in
/// place; a store reference already present is re-hashed; anything else is pulled: a URL, <c>hf.co/…</c>,
/// <c>ollama.com/…</c>, or a bare name from the Ollama library), then loads it in the embedded engine and answers a
/// smoke prompt. It reports what is ready for offline use and exits 1 naming each model that is not, and why.
/// </summary>
internal static class SetupCommand
{
    internal sealed record Row(string Model, string Origin, bool Ready, string Source, string? Path, long? Size, string Detail);

    public static Command Create(CliContext context)
    {
        var file = new Argument<FileInfo>("FILE") { Description = "The configuration whose models to set up (hearth.yaml)" };
        var json = new Option<bool>("--json") { Description = "Print the report as JSON" };
        var command = new Command("setup", "Pull, verify and smoke-test every model a configuration names; report what is ready offline") { file, json };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var path = parse.GetValue(file)!;
            if (!path.Exists)
                throw new CliException($"configuration file not found: {path.FullName}");
            var config = CliConfig.Load(context, path);
            var models = DoctorCommand.ConfiguredModels(config).ToList();
            var rows = new List<Row>();
            if (models.Count > 0)
            {
                var store = ModelStore.Open(config);
                using var audit = StoreCli.OpenAudit(config);
                var puller = new ModelPuller(store, config, context.Environment, audit);
                foreach (var (origin, model) in models)
                    rows.Add(await SetUpAsync(context, config, store, puller, origin, model, cancellationToken));
            }

            var notReady = rows.Where(r => !r.Ready).ToArray();
            if (parse.GetValue(json))
            {
                var array = new JsonArray();
                foreach (var r in rows)
                {
                    array.Add(new JsonObject
                    {
                        ["model"] = r.Model, ["origin"] = r.Origin, ["ready"] = r.Ready, ["source"] = r.Source,
                        ["path"] = r.Path, ["size"] = r.Size, ["detail"] = r.Detail,
                    });
                }

                context.Raw.WriteLine(new JsonObject { ["config"] = path.FullName, ["ready"] = notReady.Length == 0, ["models"] = array }
                    .ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            }
            else
            {
                var table = new Table().Border(TableBorder.Simple).AddColumn("model").AddColumn("for").AddColumn("source").AddColumn("size").AddColumn("status").AddColumn("detail");
                foreach (var r in rows)
                {
                    table.AddRow(Markup.Escape(r.Model), Markup.Escape(r.Origin), Markup.Escape(r.Source), r.Size is { } size ? StoreCli.Bytes(size) : "-",
                        r.Ready ? "[green]ready[/]" : "[red]not ready[/]", Markup.Escape(r.Detail));
                }

                context.Console.Write(table);
                context.Console.MarkupLine(rows.Count == 0
                    ? "[yellow]the configuration names no embedded model (models.default or a domain's model)[/]"
                    : notReady.Length == 0
                        ? $"[green]{rows.Count} model{(rows.Count == 1 ? "" : "s")} ready for offline use[/]"
                        : $"[red]{notReady.Length} of {rows.Count} models not ready[/]");
            }

            foreach (var r in notReady)
                HearthCli.WriteError(context, $"{r.Model} ({r.Origin}) is not ready: {r.Detail}");
            return notReady.Length == 0 ? 0 : 1;
        });
        return command;
    }

    private static async Task<Row> SetUpAsync(CliContext context, HearthConfig config, ModelStore store, ModelPuller puller, string origin, string model, CancellationToken cancellationToken)
    {
        string source;
        string path;
        try
        {
            var baseDir = config.SourcePath is { } s ? System.IO.Path.GetDirectoryName(s)! : Environment.CurrentDirectory;
            var local = System.IO.Path.IsPathRooted(model) ? model : System.IO.Path.GetFullPath(System.IO.Path.Combine(baseDir, model));
            var isSource = model.Contains("://", StringComparison.Ordinal) || model.StartsWith("hf.co/", StringComparison.OrdinalIgnoreCase)
                || model.StartsWith("ollama.com/", StringComparison.OrdinalIgnoreCase) || model.StartsWith("huggingface.co/", StringComparison.OrdinalIgnoreCase);
            if (File.Exists(local))
            {
                (source, path) = ("file", local);
            }
            else if (isSource || (IsPullable(model) && store.Find(model) is null))
            {
                var pullSource = isSource ? model : ModelPuller.SuggestPullCommand(model)["hearth pull ".Length..];
                var result = await StoreCli.WithProgressAsync(context, (progress, log) => puller.PullAsync(pullSource,
                    new PullOptions { Name = isSource ? null : model, Progress = progress, Log = log }, cancellationToken));
                var bad = (await store.VerifyAsync(result.Manifest.Reference, null, cancellationToken)).FirstOrDefault(v => v.Status != VerifyStatus.Ok);
                if (bad is not null)
                    return new Row(model, origin, false, "pulled", bad.Path, null, $"{bad.Status.ToString().ToLowerInvariant()} after pull: {bad.Path}");
                (source, path) = ($"pulled from {pullSource}", result.ModelPath);
            }
            else if (store.Find(model) is not null)
            {
                var bad = (await store.VerifyAsync(model, null, cancellationToken)).FirstOrDefault(v => v.Status != VerifyStatus.Ok);
                if (bad is not null)
                {
                    return new Row(model, origin, false, "store", bad.Path, null, bad.Status == VerifyStatus.Missing
                        ? $"its file {bad.Path} is missing; pull it again"
                        : $"its file {bad.Path} is corrupted (sha256 {bad.ActualHex}, expected {bad.ExpectedHex}); pull it again");
                }

                if (!store.TryResolve(model, out path))
                    return new Row(model, origin, false, "store", null, null, "in the store but cannot be resolved to a file");
                source = "store (verified)";
            }
            else
            {
                return new Row(model, origin, false, "-", null, null, $"not a file ({local}) and not something to pull");
            }
        }
        catch (Exception ex) when (ex is ModelStoreException or Privacy.EgressDeniedException or HttpRequestException or IOException or UnauthorizedAccessException or FormatException or ArgumentException)
        {
            return new Row(model, origin, false, "-", null, null, ex.Message);
        }

        var (ok, detail) = DoctorCommand.Smoke(path, cancellationToken);
        return new Row(model, origin, ok, source, path, new FileInfo(path).Length, ok ? detail : "does not load or answer: " + detail);
    }

    /// <summary>A bare <c>name[:tag]</c> (pulled from the Ollama library when not in the store); not a missing .gguf path.</summary>
    private static bool IsPullable(string model) => !model.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase);
}
