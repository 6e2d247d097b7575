using System.CommandLine;
using Hearth.Cli.Commands.Audit;
using Hearth.Cli.Commands.Bench;
using Hearth.Cli.Commands.Config;
using Hearth.Cli.Commands.Doctor;
using Hearth.Cli.Commands.Factory;
using Hearth.Cli.Commands.Inspect;
using Hearth.Cli.Commands.Redact;
using Hearth.Cli.Commands.Route;
using Hearth.Cli.Commands.Run;
using Hearth.Cli.Commands.Tokenize;
using Hearth.Cli.Commands.Store;
using Hearth.Gguf;

namespace Hearth.Cli;

/// <summary>
/// The <c>hearth</c> command: builds the command tree (one folder per verb under Commands/), runs it, and turns
/// failures into exit codes: 0 success, 1 a user error printed as one red line, 2 a usage error.
/// </summary>
internal static class HearthCli
{
    /// <summary>Global <c>--verbose</c>: stack traces on errors.</summary>
    public static readonly Option<bool> Verbose = new("--verbose", "-v")
    {
        Description = "Show details (stack traces) on errors",
        Recursive = true,
    };

    public static RootCommand CreateRoot(CliContext context)
    {
        var root = new RootCommand("Hearth: local-first AI runtime. Models run on this machine; nothing leaves it unless you opt in.")
        {
            Verbose,
            InspectCommand.Create(context),
            RunCommand.Create(context),
            BenchCommand.Create(context),
            ConfigCommand.Create(context),
            AuditCommand.Create(context),
            RedactCommand.Create(context),
            DoctorCommand.Create(context),
            Commands.Setup.SetupCommand.Create(context),
            TokenizeCommand.CreateTokenize(context),
            TokenizeCommand.CreateTemplate(context),
            RouteCommand.Create(context),
            PullCommand.Create(context),
            ListCommand.Create(context),
            ShowCommand.Create(context),
            RemoveCommand.Create(context),
            VerifyCommand.Create(context),
            DiskUsageCommand.Create(context),
            GcCommand.Create(context),
            ImportCommand.Create(context),
            Commands.Runtime.ServeCommand.Create(context),
            Commands.Runtime.PsCommand.Create(context),
            Commands.Runtime.ChatCommand.Create(context),
            Commands.Runtime.DemoCommand.Create(context),
            Commands.Runtime.CostCommand.Create(context),
            FactoryCommand.Create(context),
        };
        return root;
    }

    /// <summary>Writes one error line, never wrapped (it may be parsed by scripts), red where the terminal supports it.</summary>
    public static void WriteError(CliContext context, string message)
    {
        var writer = context.Error.Profile.Out.Writer;
        var line = message.ReplaceLineEndings(" ");
        writer.WriteLine(context.Error.Profile.Capabilities.Ansi ? $"\u001b[31merror:\u001b[0m {line}" : $"error: {line}");
    }

    public static async Task<int> RunAsync(string[] args, CliContext context, CancellationToken cancellationToken = default)
    {
        var root = CreateRoot(context);
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var error in parse.Errors)
                WriteError(context, error.Message);
            context.Error.Profile.Out.Writer.WriteLine("Run 'hearth --help' for usage.");
            return 2;
        }
        try
        {
            var config = new InvocationConfiguration
            {
                EnableDefaultExceptionHandler = false,
                Output = context.Raw,
                Error = context.Error.Profile.Out.Writer,
            };
            return await parse.InvokeAsync(config, cancellationToken);
        }
        catch (Exception ex) when (ex is CliException or GgufFormatException or Hearth.Configuration.HearthConfigException or Hearth.Privacy.EgressDeniedException or Hearth.Store.ModelStoreException or Hearth.Engine.Templates.ChatTemplateException or Hearth.Runtime.ModelUnavailableException or FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException)
        {
            WriteError(context, ex.Message);
            if (parse.GetValue(Verbose))
                context.Error.Profile.Out.Writer.WriteLine(ex.ToString());
            return ex is CliException c ? c.ExitCode : 1;
        }
        catch (OperationCanceledException)
        {
            WriteError(context, "cancelled");
            return 130;
        }
        catch (Exception ex)
        {
            WriteError(context, $"unexpected {ex.GetType().Name}: {ex.Message}");
            context.Error.Profile.Out.Writer.WriteLine(parse.GetValue(Verbose) ? ex.ToString() : "Run again with --verbose for details.");
            return 1;
        }
    }
}
