using System.CommandLine;
using System.Globalization;
using Hearth.Cli.Commands.Inspect;
using Hearth.Configuration;
using Hearth.Factory;
using Spectre.Console;

namespace Hearth.Cli.Commands.Factory;

/// <summary><c>hearth factory bundle bundle.yaml OUT.gguf [--validate]</c>: one GGUF with a base, per-domain adapters and domains.</summary>
internal static class BundleCommand
{
    public static Command Create(CliContext context)
    {
        var spec = new Argument<FileInfo>("BUNDLE_YAML") { Description = "Bundle description: base model, domains with adapter, scale, description, policy, examples" };
        var output = new Argument<FileInfo>("OUT") { Description = "Bundle GGUF to write" };
        var validate = new Option<bool>("--validate") { Description = "Load the bundle and check every domain answers with its adapter applied" };
        var minDelta = new Option<double>("--min-delta") { Description = "--validate fails when a domain's adapter moves no logit by more than this", DefaultValueFactory = _ => 1e-3 };
        var command = new Command("bundle", "Pack a base model, per-domain LoRA adapters and the router's domains into one GGUF")
        {
            spec, output, validate, minDelta,
        };
        command.SetAction((parse, cancellationToken) =>
        {
            var yaml = parse.GetValue(spec)!;
            if (!yaml.Exists)
                throw new CliException($"file not found: {yaml.FullName}");
            BundleSpec bundle;
            try
            {
                bundle = BundleSpec.Load(yaml.FullName);
            }
            catch (HearthConfigException e)
            {
                throw new CliException(e.Message);
            }
            var dst = parse.GetValue(output)!.FullName;
            BundleResult result;
            try
            {
                result = BundleBuilder.Build(bundle, dst);
            }
            catch (InvalidDataException e)
            {
                throw new CliException(e.Message);
            }
            context.Console.MarkupLineInterpolated($"[green]wrote[/] {dst}: {result.BaseTensors} base tensors, {result.Domains.Count} domains, {InspectCommand.Bytes(result.Bytes)}");
            context.Console.WriteLine(BundleBuilder.Describe(result));
            if (!parse.GetValue(validate))
                return Task.FromResult(0);

            cancellationToken.ThrowIfCancellationRequested();
            var report = BundleValidator.Validate(dst, parse.GetValue(minDelta));
            var table = new Table().Border(TableBorder.Simple).AddColumn("domain").AddColumn("adapter")
                .AddColumn(new TableColumn("max |Δlogit| vs base").RightAligned()).AddColumn("smoke answer").AddColumn("ok");
            foreach (var d in report.Domains)
            {
                table.AddRow(Markup.Escape(d.Domain), d.HasAdapter ? "yes" : "base",
                    d.MaxLogitDelta.ToString("0.####", CultureInfo.InvariantCulture), Markup.Escape(d.Smoke.ReplaceLineEndings(" ")),
                    d.Ok ? "[green]ok[/]" : "[red]FAIL[/]");
            }
            context.Console.Write(table);
            if (!report.Ok)
            {
                throw new CliException("bundle validation failed: " + string.Join("; ", report.Domains.Where(d => !d.Ok).Select(d => $"{d.Domain}: {d.Problem}")));
            }
            context.Console.MarkupLine("[green]bundle validated[/]: every domain answers, every adapter changes the model's output");
            return Task.FromResult(0);
        });
        return command;
    }
}
