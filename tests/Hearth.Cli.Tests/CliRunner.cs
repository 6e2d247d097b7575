using Hearth.Tests.Shared;
using Spectre.Console;

namespace Hearth.Cli.Tests;

/// <summary>Runs the hearth CLI in-process with captured stdout / stderr.</summary>
internal static class CliRunner
{
    public sealed record Result(int ExitCode, string Out, string Error);

    public static Task<Result> RunAsync(params string[] args) => RunWithAsync(null, null, args);

    /// <summary>
    /// The environment a test gets when it names none: the process environment without any <c>HEARTH_*</c> override
    /// or <c>HF_TOKEN</c> (a developer's <c>HEARTH_MODELS__AUTO_DOWNLOAD=true</c> must not make a test pull), and a
    /// HEARTH_HOME that does not exist, so the built-in local-first defaults apply.
    /// </summary>
    internal static System.Collections.Hashtable Hermetic()
    {
        var env = new System.Collections.Hashtable();
        foreach (System.Collections.DictionaryEntry e in Environment.GetEnvironmentVariables())
        {
            var key = (string)e.Key;
            if (!key.StartsWith("HEARTH_", StringComparison.Ordinal) && key != "HF_TOKEN")
                env[key] = e.Value;
        }
        env["HEARTH_HOME"] = Path.Combine(Path.GetTempPath(), "hearth-test-no-home-" + Guid.NewGuid().ToString("N"));
        return OfflineSources.Apply(env);
    }

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
            Environment = OfflineSources.Apply(environment ?? Hermetic()), // the public hubs are never a test's source
            Input = stdin is null ? null : new StringReader(stdin),
        });
        return new Result(code, stdout.ToString(), stderr.ToString());
    }
}
