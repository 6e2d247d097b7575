using System.Globalization;

namespace Hearth.Configuration;

/// <summary>Where a configuration value came from.</summary>
public enum ConfigOriginKind
{
    /// <summary>Hearth's built-in default.</summary>
    Default,

    /// <summary>A line of a configuration file.</summary>
    File,

    /// <summary>An environment variable (<c>HEARTH_SECTION__KEY</c>).</summary>
    Environment,
}

/// <summary>The origin of one configuration value: a default, a file and line, or an environment variable.</summary>
/// <param name="Kind">Which kind of origin.</param>
/// <param name="Source">The file path or the environment variable name; null for defaults.</param>
/// <param name="Line">1-based line in <paramref name="Source"/> for file origins; 0 otherwise.</param>
public sealed record ConfigOrigin(ConfigOriginKind Kind, string? Source = null, int Line = 0)
{
    /// <summary>The origin of built-in defaults.</summary>
    public static ConfigOrigin Default { get; } = new(ConfigOriginKind.Default);

    /// <summary>Formats as <c>default</c>, <c>path:line</c> or <c>env NAME</c>.</summary>
    public override string ToString() => Kind switch
    {
        ConfigOriginKind.File => string.Create(CultureInfo.InvariantCulture, $"{Source}:{Line}"),
        ConfigOriginKind.Environment => "env " + Source,
        _ => "default",
    };
}

/// <summary>One configuration problem: the key path, where the offending value came from, and what is wrong.</summary>
/// <param name="Key">Dotted key path, e.g. <c>providers.openai.enabled</c>.</param>
/// <param name="Origin">Where the offending value was written (file and line, or environment variable).</param>
/// <param name="Message">What is wrong and what is expected.</param>
public sealed record ConfigError(string Key, ConfigOrigin Origin, string Message)
{
    /// <summary>Formats as <c>origin: key: message</c>.</summary>
    public override string ToString() => $"{Origin}: {Key}: {Message}";
}

/// <summary>One effective configuration value with its origin.</summary>
/// <param name="Key">Dotted key path.</param>
/// <param name="Value">The value as Hearth understood it, formatted for display.</param>
/// <param name="Origin">Where it came from.</param>
public sealed record ConfigValue(string Key, string Value, ConfigOrigin Origin);

/// <summary>Thrown when a configuration cannot be loaded; <see cref="Errors"/> lists every problem found.</summary>
public sealed class HearthConfigException : Exception
{
    /// <summary>Creates the exception from the list of problems.</summary>
    /// <param name="errors">Every problem found; at least one.</param>
    public HearthConfigException(IReadOnlyList<ConfigError> errors)
        : base(Format(errors))
    {
        Errors = errors;
    }

    /// <summary>Creates an exception with a message only.</summary>
    public HearthConfigException()
        : this([])
    {
    }

    /// <summary>Creates an exception with a message only.</summary>
    /// <param name="message">The message.</param>
    public HearthConfigException(string message)
        : base(message)
    {
        Errors = [];
    }

    /// <summary>Creates an exception with a message and an inner exception.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public HearthConfigException(string message, Exception innerException)
        : base(message, innerException)
    {
        Errors = [];
    }

    /// <summary>Every problem found, in file order where possible.</summary>
    public IReadOnlyList<ConfigError> Errors { get; }

    private static string Format(IReadOnlyList<ConfigError> errors) => errors.Count switch
    {
        0 => "Invalid Hearth configuration.",
        1 => "Invalid Hearth configuration: " + errors[0],
        _ => $"Invalid Hearth configuration ({errors.Count} errors):" + Environment.NewLine
            + string.Join(Environment.NewLine, errors.Select(e => "  " + e)),
    };
}
