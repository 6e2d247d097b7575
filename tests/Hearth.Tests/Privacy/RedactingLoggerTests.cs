using System.Collections;
using Hearth.Configuration;
using Hearth.Privacy;
using Microsoft.Extensions.Logging;

namespace Hearth.Tests.Privacy;

/// <summary>Every log line passes through the PHI redactor before it is written.</summary>
public sealed class RedactingLoggerTests : IDisposable
{
    private readonly string _home = Path.Combine(Path.GetTempPath(), "hearth-logs-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public void MessageAndExceptionTextAreRedactedBeforeWriting()
    {
        using var writer = new StringWriter();
        using (var provider = new RedactingLoggerProvider(writer))
        {
            var logger = provider.CreateLogger("Hearth.Test");
#pragma warning disable CA1848, CA2254 // the point is an arbitrary, PHI-bearing message
            logger.LogWarning("Patient John Smith, SSN 123-45-6789, phone (555) 123-4567, mail john.smith@example.com asked about dosing");
            logger.LogError(new InvalidOperationException("lookup failed for SSN 987-65-4321"), "request {Id} failed for jane.doe@example.org", 42);
            logger.LogDebug("below the minimum level: 111-22-3333");
#pragma warning restore CA1848, CA2254
        }

        var text = writer.ToString();
        foreach (var secret in new[] { "John Smith", "123-45-6789", "555) 123-4567", "123-4567", "john.smith@example.com", "987-65-4321", "jane.doe@example.org", "111-22-3333" })
            Assert.DoesNotContain(secret, text, StringComparison.Ordinal);
        Assert.Contains("[SSN]", text, StringComparison.Ordinal);
        Assert.Contains("[EMAIL]", text, StringComparison.Ordinal);
        Assert.Contains("[PHONE]", text, StringComparison.Ordinal);
        Assert.Contains("[NAME]", text, StringComparison.Ordinal);
        Assert.Contains("warn Hearth.Test[0]: ", text, StringComparison.Ordinal);
        Assert.Contains("fail Hearth.Test[0]: request 42 failed for [EMAIL]", text, StringComparison.Ordinal);
        Assert.Contains("InvalidOperationException: lookup failed for", text, StringComparison.Ordinal);
        Assert.Equal(2, text.Split('\n').Count(l => l.Contains(" Hearth.Test[", StringComparison.Ordinal)));
    }

    [Fact]
    public void ConfiguredProviderWritesRedactedFileAndHonoursLoggingMode()
    {
        var env = new Hashtable { ["HEARTH_HOME"] = _home };
        var (config, errors) = HearthConfigLoader.CheckText("privacy:\n  redact_logs: false\nhealthcare:\n  compliance_mode: hipaa\n", environment: env);
        Assert.Empty(errors);
        using (var provider = RedactingLoggerProvider.ForConfig(config))
        {
            Assert.NotNull(provider);
#pragma warning disable CA1848, CA2254
            provider.CreateLogger("Hearth.Server").LogWarning("SSN 123-45-6789 seen");
#pragma warning restore CA1848, CA2254
        }

        // HIPAA mode redacts even when redact_logs is off.
        var log = File.ReadAllText(Path.Combine(_home, "logs", "hearth.log"));
        Assert.Contains("warn Hearth.Server[0]: ", log, StringComparison.Ordinal);
        Assert.Contains("[SSN]", log, StringComparison.Ordinal);
        Assert.DoesNotContain("123-45-6789", log, StringComparison.Ordinal);

        var (off, offErrors) = HearthConfigLoader.CheckText("privacy:\n  logging_mode: disabled\n", environment: env);
        Assert.Empty(offErrors);
        Assert.Null(RedactingLoggerProvider.ForConfig(off));
    }

    public void Dispose()
    {
        if (Directory.Exists(_home))
            Directory.Delete(_home, recursive: true);
    }
}
