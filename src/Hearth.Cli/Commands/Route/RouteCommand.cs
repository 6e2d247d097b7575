using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Hearth.Routing;
using Spectre.Console;

namespace Hearth.Cli.Commands.Route;

/// <summary>
/// <c>hearth route [--config FILE] [--json] [--explain] QUERY</c>, <c>hearth route --batch FILE [--json]</c> and
/// <c>hearth route eval --data FILE.jsonl [--config FILE] [--json]</c>: which domain and model a query goes to, and why.
/// No chat model is run; with <c>router.embedding_weight</c> the embedding model embeds the examples and the query.
/// </summary>
internal static class RouteCommand
{
    public static Command Create(CliContext context)
    {
        var config = new Option<FileInfo?>("--config") { Description = "hearth.yaml to read domains, weights and policy from (default: $HEARTH_HOME/hearth.yaml, else the default domains)", Recursive = true };
        var json = new Option<bool>("--json") { Description = "Print JSON (one decision per line with --batch)", Recursive = true };
        var explain = new Option<bool>("--explain") { Description = "Show every candidate's four scores, the weighted totals and the emotional cues" };
        var batch = new Option<FileInfo?>("--batch") { Description = "Route every line of FILE (one query per line); print one JSON decision per line" };
        var query = new Argument<string?>("QUERY") { Description = "The query to route", Arity = ArgumentArity.ZeroOrOne };

        var data = new Option<FileInfo>("--data") { Description = "JSON Lines file: {\"text\": ..., \"domain\": ...} per line", Required = true };
        var eval = new Command("eval", "Evaluate the router on labelled queries: accuracy, macro-F1, per-domain precision/recall, confusion matrix, out-of-scope precision/recall, decision latency")
        {
            data,
        };
        eval.SetAction(parse =>
        {
            var file = parse.GetValue(data)!;
            if (!file.Exists)
                throw new CliException($"evaluation file not found: {file.FullName}");
            IReadOnlyList<LabelledQuery> queries;
            try
            {
                queries = RouterEvaluation.ReadJsonLines(file.FullName);
            }
            catch (FormatException ex)
            {
                throw new CliException(ex.Message);
            }

            if (queries.Count == 0)
                throw new CliException($"{file.FullName}: no labelled queries");
            var router = Build(context, parse.GetValue(config));
            var report = RouterEvaluation.Evaluate(router, queries);
            if (parse.GetValue(json))
                context.Raw.WriteLine(JsonSerializer.Serialize(report, RouteJsonContext.Default.RouterEvaluationReport));
            else
                RenderEvaluation(context.Console, report);
            return 0;
        });

        var command = new Command("route", "Show which domain and local model a query would be routed to, with the scores behind the choice")
        {
            config, json, explain, batch, query, eval,
        };
        command.SetAction(parse =>
        {
            var batchFile = parse.GetValue(batch);
            var text = parse.GetValue(query);
            if (batchFile is not null && text is not null)
                throw new CliException("give either QUERY or --batch FILE, not both", 2);
            if (batchFile is null && string.IsNullOrWhiteSpace(text))
                throw new CliException("missing QUERY (or --batch FILE); see 'hearth route --help'", 2);
            if (batchFile is not null && !batchFile.Exists)
                throw new CliException($"batch file not found: {batchFile.FullName}");
            var router = Build(context, parse.GetValue(config));
            if (batchFile is not null)
            {
                foreach (var line in File.ReadLines(batchFile.FullName))
                {
                    if (string.IsNullOrWhiteSpace(line))
                        continue;
                    context.Raw.WriteLine(JsonSerializer.Serialize(router.RouteBlocking(line), RouteJsonContext.Default.RouteDecision));
                }

                return 0;
            }

            var decision = router.RouteBlocking(text!);
            if (parse.GetValue(json))
                context.Raw.WriteLine(JsonSerializer.Serialize(decision, RouteJsonContext.Default.RouteDecision));
            else if (parse.GetValue(explain))
                context.Raw.Write(decision.Explain());
            else
                context.Raw.WriteLine($"{decision.Domain} -> {decision.Model ?? "(no model configured)"} via {decision.Provider}: {decision.Reason}");
            return 0;
        });
        return command;
    }

    private static DomainRouter Build(CliContext context, FileInfo? configFile)
    {
        var config = CliConfig.Load(context, configFile);

        // Measured speeds (usage ledger) and stored evaluation scores (factory validate --domain), as the runtime uses
        // them; with router.embedding_weight, the embedding model too, as the runtime does.
        var stats = ModelStatsLoader.Load(config);
        if (config.Router.EmbeddingWeight <= 0 || config.Models.Embedding is not { } model)
            return DomainRouter.Create(config, stats);
        try
        {
            var path = new Hearth.Runtime.EmbeddedModelLoader(Hearth.Store.ModelStore.Open(config)).Plan(model).Path;
            var embedder = Hearth.Engine.Generation.EngineEmbeddingGenerator.Open(path);
            return DomainRouter.CreateAsync(config, embedder, stats, config.Router.EmbeddingWeight).GetAwaiter().GetResult();
        }
        catch (Exception ex) when (ex is Hearth.Runtime.ModelUnavailableException or Hearth.Engine.Model.ModelLoadException or Hearth.Gguf.GgufFormatException or ArgumentException or InvalidOperationException)
        {
            throw new CliException($"router.embedding_weight: the embedding model '{model}' cannot be used: {ex.Message}");
        }
    }

    private static void RenderEvaluation(IAnsiConsole console, RouterEvaluationReport r)
    {
        var inv = CultureInfo.InvariantCulture;
        console.WriteLine(string.Create(inv, $"queries {r.Count}, accuracy {r.Accuracy:0.000}, macro-F1 {r.MacroF1:0.000}"));
        console.WriteLine(string.Create(inv, $"out-of-scope ({DomainRouter.FallbackDomain}): precision {r.OutOfScopePrecision:0.000}, recall {r.OutOfScopeRecall:0.000}"));
        console.WriteLine(string.Create(inv, $"decision latency: p50 {r.LatencyP50Microseconds:0.0} µs, p99 {r.LatencyP99Microseconds:0.0} µs, {r.DecisionsPerSecond:0} decisions/s (one thread); CPU {r.CpuMicrosecondsPerDecision:0.0} µs per decision"));
        var table = new Table().Border(TableBorder.Simple).AddColumn("domain")
            .AddColumn(new TableColumn("support").RightAligned()).AddColumn(new TableColumn("predicted").RightAligned())
            .AddColumn(new TableColumn("precision").RightAligned()).AddColumn(new TableColumn("recall").RightAligned()).AddColumn(new TableColumn("F1").RightAligned());
        foreach (var m in r.PerDomain)
        {
            table.AddRow(new Text(m.Domain), new Text(m.Support.ToString(inv)), new Text(m.Predicted.ToString(inv)),
                new Text(m.Precision.ToString("0.000", inv)), new Text(m.Recall.ToString("0.000", inv)), new Text(m.F1.ToString("0.000", inv)));
        }

        console.Write(table);
        var confusion = new Table().Border(TableBorder.Simple).AddColumn("expected \\ routed");
        foreach (var l in r.Labels)
            confusion.AddColumn(new TableColumn(l).RightAligned());
        for (var i = 0; i < r.Labels.Count; i++)
            confusion.AddRow([new Text(r.Labels[i]), .. r.Confusion[i].Select(c => new Text(c.ToString(inv)))]);
        console.Write(confusion);
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(RouteDecision))]
[JsonSerializable(typeof(RouterEvaluationReport))]
internal sealed partial class RouteJsonContext : JsonSerializerContext;
