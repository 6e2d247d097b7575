using System.Collections;
using System.Diagnostics;
using System.Text.Json.Nodes;
using Hearth.Privacy;

namespace Hearth.Cli.Tests;

/// <summary><c>hearth config</c>, <c>audit</c>, <c>redact</c> and <c>doctor</c> (issue 6), in a temporary HEARTH_HOME.</summary>
public sealed class PrivacyCommandTests : IDisposable
{
    private readonly string _home = Directory.CreateTempSubdirectory("hearth-cli-").FullName;

    public void Dispose() => Directory.Delete(_home, recursive: true);

    private Hashtable Env(params (string Key, string Value)[] extra)
    {
        var env = new Hashtable();
        foreach (DictionaryEntry e in Environment.GetEnvironmentVariables())
        {
            if (!((string)e.Key).StartsWith("HEARTH_", StringComparison.Ordinal))
                env[e.Key] = e.Value;
        }
        env["HEARTH_HOME"] = _home;
        foreach (var (k, v) in extra)
            env[k] = v;
        return env;
    }

    private string WriteConfig(string yaml)
    {
        var path = Path.Combine(_home, "hearth.yaml");
        File.WriteAllText(path, yaml);
        return path;
    }

    [Fact]
    public async Task ConfigCheckAcceptsAValidFile()
    {
        var path = WriteConfig("privacy:\n  external_calls: disabled\n");
        var r = await CliRunner.RunWithAsync(Env(), null, "config", "check", path);
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("ok", r.Out, StringComparison.Ordinal);
        Assert.Contains(path, r.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConfigCheckNamesKeyFileAndLine()
    {
        var path = WriteConfig("privacy:\n  external_calls: disabled\n  exernal_calls: enabled\n");
        var r = await CliRunner.RunWithAsync(Env(), null, "config", "check", path);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains($"{path}:3", r.Error, StringComparison.Ordinal);
        Assert.Contains("privacy.exernal_calls", r.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConfigShowReportsEachOrigin()
    {
        var path = WriteConfig("models:\n  keep_alive: 10m\n");
        var r = await CliRunner.RunWithAsync(Env(("HEARTH_MODELS__AUTO_DOWNLOAD", "true")), null, "config", "show", "--config", path, "--json");
        Assert.Equal(0, r.ExitCode);
        var values = JsonNode.Parse(r.Out)!.AsArray().ToDictionary(n => (string)n!["key"]!, n => ((string)n!["value"]!, (string)n["origin"]!));
        Assert.Equal($"{path}:2", values["models.keep_alive"].Item2);
        Assert.Equal("env HEARTH_MODELS__AUTO_DOWNLOAD", values["models.auto_download"].Item2);
        Assert.Equal("default", values["privacy.external_calls"].Item2);
        // Every CLI test runs with loopback stand-ins for the public hubs (OfflineSources).
        Assert.Equal(("http://127.0.0.1:9/huggingface/", "env HEARTH_MODELS__HUGGINGFACE_URL"), values["models.huggingface_url"]);
        Assert.Equal(("http://127.0.0.1:9/ollama/", "env HEARTH_MODELS__OLLAMA_REGISTRY_URL"), values["models.ollama_registry_url"]);
    }

    [Fact]
    public async Task ConfigShowRefusesAnInvalidFile()
    {
        var path = WriteConfig("privacy:\n  external_calls: sometimes\n");
        var r = await CliRunner.RunWithAsync(Env(), null, "config", "show", "--config", path);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("privacy.external_calls", r.Error, StringComparison.Ordinal);
    }

    /// <summary>A clock that keeps one reading.</summary>
    private sealed class FrozenClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }

    private string WriteAudit(int entries)
    {
        var dir = Path.Combine(_home, "audit");
        // One clock reading for every entry: segments are per UTC day, and entries written across midnight would land in
        // two files and break the tests that edit "the" segment by line number. Now, so "--since 1d" includes them.
        using var log = AuditLog.Open(dir, new AuditLogOptions { CheckpointInterval = 1000, Time = new FrozenClock(DateTimeOffset.UtcNow) });
        for (var i = 0; i < entries; i++)
            log.Append("test", new JsonObject { ["n"] = i });
        return dir;
    }

    [Fact]
    public async Task AuditVerifyPassesThenNamesTheEditedEntry()
    {
        var dir = WriteAudit(5);
        var ok = await CliRunner.RunWithAsync(Env(), null, "audit", "verify");
        Assert.Equal(0, ok.ExitCode);
        Assert.Contains("5 entries verified", ok.Out, StringComparison.Ordinal);

        var file = Directory.GetFiles(dir, "audit-*.jsonl").Single();
        var lines = File.ReadAllLines(file);
        lines[2] = lines[2].Replace("\"n\":2", "\"n\":7", StringComparison.Ordinal);
        File.WriteAllLines(file, lines);
        var bad = await CliRunner.RunWithAsync(Env(), null, "audit", "verify");
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains($"{Path.GetFileName(file)}:3", bad.Error, StringComparison.Ordinal);
        Assert.Contains("tampered", bad.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AuditTailAndExport()
    {
        WriteAudit(6);
        var tail = await CliRunner.RunWithAsync(Env(), null, "audit", "tail", "-n", "2");
        Assert.Equal(0, tail.ExitCode);
        var tailed = tail.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, tailed.Length);
        Assert.Equal(5, (int)JsonNode.Parse(tailed[1])!["data"]!["n"]!);

        var all = await CliRunner.RunWithAsync(Env(), null, "audit", "export", "--since", "1d");
        Assert.Equal(6, all.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        var none = await CliRunner.RunWithAsync(Env(), null, "audit", "export", "--since", DateTime.UtcNow.AddDays(1).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(0, none.ExitCode);
        Assert.Equal("", none.Out.Trim());

        var target = Path.Combine(_home, "export.jsonl");
        var toFile = await CliRunner.RunWithAsync(Env(), null, "audit", "export", "-o", target);
        Assert.Equal(0, toFile.ExitCode);
        Assert.Equal(6, File.ReadAllLines(target).Length);

        var badSince = await CliRunner.RunWithAsync(Env(), null, "audit", "export", "--since", "last tuesday");
        Assert.Equal(1, badSince.ExitCode);
        Assert.Contains("--since", badSince.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RedactReadsStandardInput()
    {
        var r = await CliRunner.RunWithAsync(Env(), "Patient John Smith, phone 555-123-4567, email john.smith@example.com. The weather is mild.",
            "redact");
        Assert.Equal(0, r.ExitCode);
        Assert.DoesNotContain("555-123-4567", r.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("john.smith@example.com", r.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("John Smith", r.Out, StringComparison.Ordinal);
        Assert.Contains("[PHONE]", r.Out, StringComparison.Ordinal);
        Assert.Contains("The weather is mild.", r.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RedactJsonListsSpansWithoutTheIdentifiers()
    {
        var file = Path.Combine(_home, "note.txt");
        File.WriteAllText(file, "SSN 123-45-6789 on file.");
        var r = await CliRunner.RunWithAsync(Env(), null, "redact", "--json", file);
        Assert.Equal(0, r.ExitCode);
        var found = JsonNode.Parse(r.Out)!.AsArray().Single()!["found"]!.AsArray();
        Assert.Contains(found, f => (string)f!["type"]! == "SSN" && (int)f["start"]! == 4 && (int)f["length"]! == 11);
        Assert.DoesNotContain("123-45-6789", r.Out, StringComparison.Ordinal);

        var missing = await CliRunner.RunWithAsync(Env(), null, "redact", Path.Combine(_home, "nope.txt"));
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("nope.txt", missing.Error, StringComparison.Ordinal);
    }

    private string DoctorConfig() => WriteConfig($"models:\n  default: {Hearth.Tests.Shared.Fixtures.Stories260K}\n");

    [Fact]
    public async Task DoctorChecksConfigurationAuditAndModel()
    {
        var path = DoctorConfig();
        WriteAudit(3);
        var r = await CliRunner.RunWithAsync(Env(), null, "doctor", "--config", path, "--json");
        Assert.Equal(0, r.ExitCode);
        var checks = JsonNode.Parse(r.Out)!["checks"]!.AsArray().ToDictionary(c => (string)c!["check"]!, c => (string)c!["status"]!);
        Assert.Equal("ok", checks["configuration"]);
        Assert.Equal("ok", checks["egress guard"]);
        Assert.Equal("ok", checks["audit trail"]);
        Assert.Equal("ok", checks.Single(c => c.Key.StartsWith("model ", StringComparison.Ordinal)).Value);
    }

    [Fact]
    public async Task DoctorResolvesStoreModelsByNameAndNeverPulls()
    {
        var pull = await CliRunner.RunWithAsync(Env(), null, "pull", Hearth.Tests.Shared.Fixtures.Stories260K, "--name", "stories:260k");
        Assert.True(pull.ExitCode == 0, pull.Error);
        var path = WriteConfig("models:\n  default: stories:260k\ndomains:\n  chat: { model: 'llama3.2:1b' }\n");
        var r = await CliRunner.RunWithAsync(Env(), null, "doctor", "--config", path, "--json");
        Assert.Equal(1, r.ExitCode);
        var checks = JsonNode.Parse(r.Out)!["checks"]!.AsArray().ToDictionary(c => (string)c!["check"]!, c => ((string)c!["status"]!, (string)c!["detail"]!));
        Assert.Equal("ok", checks["model stories:260k (models.default)"].Item1);
        var missing = checks["model llama3.2:1b (domains.chat)"];
        Assert.Equal("fail", missing.Item1);
        Assert.Contains("hearth pull ollama.com/library/llama3.2:1b", missing.Item2, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DoctorFailsForAMissingModelAndATamperedAudit()
    {
        var path = WriteConfig("models:\n  default: ./missing.gguf\n");
        var dir = WriteAudit(3);
        var file = Directory.GetFiles(dir, "audit-*.jsonl").Single();
        File.WriteAllLines(file, File.ReadAllLines(file).Where((_, i) => i != 1));
        var r = await CliRunner.RunWithAsync(Env(), null, "doctor", "--config", path, "--json");
        Assert.Equal(1, r.ExitCode);
        var checks = JsonNode.Parse(r.Out)!["checks"]!.AsArray();
        Assert.Contains(checks, c => (string)c!["check"]! == "audit trail" && (string)c["status"]! == "fail");
        Assert.Contains(checks, c => ((string)c!["check"]!).Contains("missing.gguf", StringComparison.Ordinal) && (string)c["status"]! == "fail");
    }

    /// <summary>
    /// The isolated run. Where this platform permits unprivileged network namespaces (probed with
    /// <c>unshare --net --map-root-user true</c>) the child must pass every check with no interface but loopback;
    /// where it does not, doctor must say so and exit 3 (that branch is asserted instead, so the test is never silent).
    /// </summary>
    [Fact]
    public async Task DoctorOfflineRunsInAnIsolatedNetworkNamespace()
    {
        var path = DoctorConfig();
        var r = await CliRunner.RunWithAsync(Env(), null, "doctor", "--offline", "--config", path, "--json");
        if (!CanIsolate())
        {
            Assert.Equal(3, r.ExitCode);
            Assert.Contains("cannot isolate the network", r.Error, StringComparison.Ordinal);
            return;
        }
        Assert.True(r.ExitCode == 0, r.Out + r.Error);
        var doc = JsonNode.Parse(r.Out)!;
        Assert.True((bool)doc["offline"]!);
        var checks = doc["checks"]!.AsArray().ToDictionary(c => (string)c!["check"]!, c => (string)c!["status"]!);
        Assert.Equal("ok", checks["network isolation"]);
        Assert.Equal("ok", checks.Single(c => c.Key.StartsWith("model ", StringComparison.Ordinal)).Value);
    }

    internal static bool CanIsolate()
    {
        if (!OperatingSystem.IsLinux() || !File.Exists("/usr/bin/unshare") && !File.Exists("/bin/unshare"))
            return false;
        try
        {
            using var p = Process.Start(new ProcessStartInfo("unshare", ["--net", "--map-root-user", "true"]) { RedirectStandardError = true, UseShellExecute = false })!;
            p.WaitForExit();
            return p.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }
}
