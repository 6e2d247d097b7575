using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using Hearth.Configuration;
using Spectre.Console;

namespace Hearth.Cli.Commands.Config;

/// <summary>
/// <c>hearth config check [FILE]</c> validates a configuration (every problem with key, file and line);
/// <c>hearth config show [--config FILE] [--json]</c> prints the effective values and where each came from.
/// </summary>
internal static class ConfigCommand
{
    public static Command Create(CliContext context)
    {
        var file = new Argument<FileInfo?>("FILE") { Description = "Configuration file (default: $HEARTH_HOME/hearth.yaml)", Arity = ArgumentArity.ZeroOrOne };
        var check = new Command("check", "Validate hearth.yaml: unknown keys, wrong types, out-of-range values, contradictions") { file };
        check.SetAction(parse =>
        {
            var path = parse.GetValue(file)?.FullName;
            var (config, errors) = HearthConfigLoader.Check(path, context.EnvironmentVariables);
            var shown = config.SourcePath ?? path ?? "(no configuration file: built-in defaults)";
            if (errors.Count == 0)
            {
                context.Console.MarkupLine($"[green]ok[/] {Markup.Escape(shown)}");
                return 0;
            }
            foreach (var e in errors)
                HearthCli.WriteError(context, e.ToString());
            context.Error.Profile.Out.Writer.WriteLine($"{errors.Count} problem{(errors.Count == 1 ? "" : "s")} in {shown}");
            return 1;
        });

        var configOption = CliConfig.CreateOption();
        var json = new Option<bool>("--json") { Description = "Print a JSON array of {key, value, origin}" };
        var show = new Command("show", "Print the effective configuration: every value and its origin (default, file:line, env)") { configOption, json };
        show.SetAction(parse =>
        {
            var config = CliConfig.Load(context, parse.GetValue(configOption));
            if (parse.GetValue(json))
            {
                var array = new JsonArray();
                foreach (var v in config.Effective)
                    array.Add(new JsonObject { ["key"] = v.Key, ["value"] = v.Value, ["origin"] = v.Origin.ToString() });
                context.Raw.WriteLine(array.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
                return 0;
            }
            context.Console.MarkupLine($"[bold]configuration[/] {Markup.Escape(config.SourcePath ?? "(built-in defaults)")}   [bold]home[/] {Markup.Escape(config.HearthHome)}");
            var table = new Table().Border(TableBorder.Simple).AddColumn("key").AddColumn("value").AddColumn("origin");
            foreach (var v in config.Effective)
                table.AddRow(Markup.Escape(v.Key), Markup.Escape(v.Value), Markup.Escape(v.Origin.ToString()));
            context.Console.Write(table);
            return 0;
        });

        return new Command("config", "Check and show hearth.yaml") { check, show };
    }
}
