using Spectre.Console;

namespace Hearth.Cli;

internal static class Program
{
    private static Task<int> Main(string[] args)
    {
        var stderr = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        return HearthCli.RunAsync(args, new CliContext(AnsiConsole.Console, stderr, Console.Out));
    }
}
