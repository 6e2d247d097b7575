using Spectre.Console;

namespace Hearth.Cli;

/// <summary>Where a command writes: a console for people, a raw writer for machine output (JSON), and stderr.</summary>
/// <param name="Console">Human-facing output (tables, colour, progress).</param>
/// <param name="Error">Error output.</param>
/// <param name="Raw">Unformatted standard output, for <c>--json</c> and piped data.</param>
internal sealed record CliContext(IAnsiConsole Console, IAnsiConsole Error, TextWriter Raw)
{
    /// <summary>Environment variables the commands read (HEARTH_HOME, HF_TOKEN...); null reads the process environment.</summary>
    public System.Collections.IDictionary? Environment { get; init; }
}

/// <summary>A user error: printed as one red line (no stack trace unless --verbose), exit code 1.</summary>
internal sealed class CliException(string message, int exitCode = 1) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}
