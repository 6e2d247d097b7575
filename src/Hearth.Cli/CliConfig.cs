using System.CommandLine;
using Hearth.Configuration;

namespace Hearth.Cli;

/// <summary>The <c>--config FILE</c> option and loading the configuration for a command.</summary>
internal static class CliConfig
{
    /// <summary>A new <c>--config</c> option (each command owns its instance).</summary>
    public static Option<FileInfo?> CreateOption() => new("--config", "-c")
    {
        Description = "Configuration file (default: $HEARTH_HOME/hearth.yaml, then built-in defaults)",
    };

    /// <summary>Loads and validates; an invalid configuration is a user error listing every problem.</summary>
    public static HearthConfig Load(CliContext context, FileInfo? file)
    {
        var (config, errors) = HearthConfigLoader.Check(file?.FullName, context.EnvironmentVariables);
        if (errors.Count > 0)
            throw new CliException($"invalid configuration ({errors.Count} problem{(errors.Count == 1 ? "" : "s")}): {string.Join("; ", errors)}");
        return config;
    }
}
