using Spectre.Console;

namespace Hearth.Cli.Tests;

/// <summary>Runs the hearth CLI in-process with captured stdout / stderr.</summary>
internal static class CliRunner
{
    public sealed record Result(int ExitCode, string Out, string Error);

    public static Task<Result> RunAsync(params string[] args) => RunWithAsync(null, null, args);

    /// <summary>Runs with the given environment variables (e.g. HEARTH_HOME) instead of the process environment.</summary>
    public static Task<Result> RunAsync(System.Collections.IDictionary? environment, params string[] args) => RunWithAsync(environment, null, args);

    /// <summary>Runs with the given environment variables (e.g. HEARTH_HOME) and standard input.</summary>
    public static async Task<Result> RunWithAsync(System.Collections.IDictionary? environment, string? stdin, params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        IAnsiConsole Make(TextWriter w)
        {
            var console = AnsiConsole.Create(new AnsiConsoleSettings
            {
                Out = new AnsiConsoleOutput(w),
                Ansi = AnsiSupport.No,
                ColorSystem = ColorSystemSupport.NoColors,
                Interactive = InteractionSupport.No,
            });
            console.Profile.Width = 240;
            return console;
        }
        var code = await HearthCli.RunAsync(args, new CliContext(Make(stdout), Make(stderr), stdout)
        {
            Environment = environment,
            Input = stdin is null ? null : new StringReader(stdin),
        });
        return new Result(code, stdout.ToString(), stderr.ToString());
    }
}
