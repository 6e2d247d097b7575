using System.Globalization;
using Hearth.Configuration;
using Microsoft.Extensions.Logging;

namespace Hearth.Privacy;

/// <summary>
/// A Microsoft.Extensions.Logging provider that passes every log line (category, formatted message, exception text
/// and stack) through <see cref="PhiRedactor"/> before writing it: no log Hearth writes can carry an SSN, phone number,
/// e-mail, patient name or other identifier the redactor finds. Lines are written whole, one per entry, and flushed.
/// </summary>
internal sealed class RedactingLoggerProvider(TextWriter writer, LogLevel minimum = LogLevel.Information, bool redact = true, bool ownsWriter = false) : ILoggerProvider
{
    private readonly Lock _gate = new();

    /// <summary>
    /// The provider for a configuration: <c>null</c> when <c>privacy.logging_mode: disabled</c>, else appending to
    /// <c>$HEARTH_HOME/logs/hearth.log</c>. Redaction is on unless <c>privacy.redact_logs: false</c>, and always on in HIPAA mode.
    /// </summary>
    public static RedactingLoggerProvider? ForConfig(HearthConfig config, LogLevel minimum = LogLevel.Information)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (config.Privacy.LoggingMode == LoggingMode.Disabled)
            return null;
        var directory = Path.Combine(config.HearthHome, "logs");
        Directory.CreateDirectory(directory);
        var stream = new FileStream(Path.Combine(directory, "hearth.log"), FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
        var redact = config.Privacy.RedactLogs || config.Healthcare.ComplianceMode == ComplianceMode.Hipaa;
        return new RedactingLoggerProvider(new StreamWriter(stream) { AutoFlush = true }, minimum, redact, ownsWriter: true);
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
        if (ownsWriter)
        {
            lock (_gate)
                writer.Dispose();
        }
    }

    private void Write(LogLevel level, string category, EventId eventId, string message, Exception? exception)
    {
        var text = exception is null ? message : message + Environment.NewLine + exception;
        if (redact)
            text = PhiRedactor.Redact(text);
        var line = string.Create(CultureInfo.InvariantCulture,
            $"{DateTimeOffset.UtcNow:yyyy-MM-ddTHH:mm:ss.fffZ} {Level(level)} {category}[{eventId.Id}]: {text.ReplaceLineEndings(Environment.NewLine + "    ")}");
        lock (_gate)
        {
            writer.WriteLine(line);
            writer.Flush();
        }
    }

    private static string Level(LogLevel level) => level switch
    {
        LogLevel.Trace => "trce",
        LogLevel.Debug => "dbug",
        LogLevel.Information => "info",
        LogLevel.Warning => "warn",
        LogLevel.Error => "fail",
        _ => "crit",
    };

    private sealed class Logger(RedactingLoggerProvider owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None && logLevel >= owner.Minimum;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            ArgumentNullException.ThrowIfNull(formatter);
            if (IsEnabled(logLevel))
                owner.Write(logLevel, category, eventId, formatter(state, exception), exception);
        }
    }

    private LogLevel Minimum => minimum;
}
