using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Security.Cryptography;
using System.Text;
using Hearth.Factory;
using Hearth.Routing;
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
        var domain = new Option<string?>("--domain") { Description = "The --text is this domain's evaluation text: store 1/perplexity as the model's quality score for the domain (the router's quality term)" };
        var recordAs = new Option<string?>("--as") { Description = "With --domain: the model reference the score is stored under, as written in domains.*.model (default: the model file's full path)" };
        var config = CliConfig.CreateOption();
        var command = new Command("validate", "Check a model: smoke prompts, perplexity on a text, KL divergence and top-1 agreement against a reference")
        {
            model, reference, text, ctx, maxKl, minTop1, maxPpl, json, domain, recordAs, config,
        };
        command.SetAction((parse, cancellationToken) =>
        {
            var m = parse.GetValue(model)!;
            var thresholds = new ValidationThresholds(parse.GetValue(maxKl), parse.GetValue(minTop1), parse.GetValue(maxPpl));
            QualityTarget? target = null;
            if (parse.GetValue(domain) is { } d)
            {
                if (parse.GetValue(text) is null)
                    throw new CliException("--domain needs --text: the domain's evaluation text");
                var cfg = CliConfig.Load(context, parse.GetValue(config));
                // The router's domains: the configured ones, else the defaults.
                var known = cfg.Domains.Count > 0 ? [.. cfg.Domains.Keys] : DefaultDomains.Create(cfg).Select(x => x.Name).ToList();
                if (!known.Contains(d))
                    throw new CliException($"unknown domain '{d}'; the router's domains: {string.Join(", ", known)}");
                target = new QualityTarget(cfg.HearthHome, parse.GetValue(recordAs) ?? m.FullName, d);
            }
            else if (parse.GetValue(recordAs) is not null)
            {
                throw new CliException("--as is only meaningful with --domain");
            }
            return Task.FromResult(Run(context, m.FullName, parse.GetValue(reference)?.FullName, parse.GetValue(text)?.FullName, parse.GetValue(ctx), thresholds,
                parse.GetValue(json), cancellationToken, target));
        });
        return command;
    }

    /// <summary>Where a domain evaluation's score is stored: the home's quality ledger, under a model reference and domain.</summary>
    internal sealed record QualityTarget(string HearthHome, string Model, string Domain);

    /// <summary>Validates and prints; returns 0, or 1 when a threshold is missed.</summary>
    internal static int Run(CliContext context, string modelPath, string? referencePath, string? textPath, int contextSize, ValidationThresholds thresholds,
        bool json, CancellationToken cancellationToken, QualityTarget? quality = null)
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

        if (quality is not null && report.Perplexity is { } measured)
        {
            var score = 1.0 / measured.Perplexity;
            QualityLedger.ForHome(quality.HearthHome).Append(new QualityRecord(DateTimeOffset.UtcNow, quality.Model, quality.Domain, score,
                measured.Perplexity, measured.ScoredTokens, Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text!)))));
            if (!json)
                context.Console.MarkupLine(string.Create(CultureInfo.InvariantCulture, $"quality score for domain [bold]{Markup.Escape(quality.Domain)}[/]: {score:0.####} (1/perplexity), stored for {Markup.Escape(quality.Model)}; the router uses it from now on"));
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
