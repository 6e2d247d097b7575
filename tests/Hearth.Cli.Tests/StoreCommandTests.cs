using System.Collections;
using System.Text.Json;
using Hearth.Tests.Shared;
using Hearth.Tests.Store;

namespace Hearth.Cli.Tests;

/// <summary>The store verbs end to end, in-process, against a temp HEARTH_HOME and a loopback server.</summary>
public sealed class StoreCommandTests : IDisposable
{
    private readonly string _temp = Path.Combine(Path.GetTempPath(), "hearth-cli-store-" + Guid.NewGuid().ToString("N"));
    private readonly Hashtable _env;

    public StoreCommandTests()
    {
        Directory.CreateDirectory(_temp);
        _env = new Hashtable { ["HEARTH_HOME"] = Path.Combine(_temp, "home") };
    }

    private Task<CliRunner.Result> Run(params string[] args) => CliRunner.RunAsync(_env, args);

    [Fact]
    public async Task PullListShowVerifyRmGcRoundTrip()
    {
        var model = await File.ReadAllBytesAsync(Fixtures.Stories260K);
        var hex = FakeHttpServer.Sha256(model);
        using var server = new FakeHttpServer(r => FakeHttpServer.File(r, model));

        var pull = await Run("pull", server.Url + "dl/stories260K-Q8_0.gguf", "--name", "stories:260k", "--sha256", hex);
        Assert.True(pull.ExitCode == 0, pull.Error);
        Assert.Contains("pulled stories:260k", pull.Out, StringComparison.Ordinal);
        Assert.Contains("stories260K-Q8_0.gguf: 100%", pull.Error, StringComparison.Ordinal);

        var list = await Run("list", "--json");
        Assert.Equal(0, list.ExitCode);
        using (var doc = JsonDocument.Parse(list.Out))
        {
            var m = Assert.Single(doc.RootElement.EnumerateArray().ToArray());
            Assert.Equal("stories:260k", m.GetProperty("name").GetString());
            Assert.Equal(model.Length, m.GetProperty("size").GetInt64());
            Assert.Equal("llama", m.GetProperty("architecture").GetString());
            Assert.Equal("url", m.GetProperty("source_kind").GetString());
            Assert.EndsWith("sha256-" + hex, m.GetProperty("path").GetString(), StringComparison.Ordinal);
        }

        var table = await Run("list");
        Assert.Contains("stories:260k", table.Out, StringComparison.Ordinal);
        Assert.Contains("never", table.Out, StringComparison.Ordinal);

        var show = await Run("show", "stories:260k");
        Assert.Equal(0, show.ExitCode);
        Assert.Contains("sha256:" + hex, show.Out, StringComparison.Ordinal);

        var verify = await Run("verify");
        Assert.Equal(0, verify.ExitCode);
        Assert.Contains("1 file verified", verify.Out, StringComparison.Ordinal);

        var du = await Run("du");
        Assert.Contains("in 1 blob", du.Out, StringComparison.Ordinal);

        // run serves the stored model by name through the runtime (its blob mapped in place).
        var run = await Run("run", "--model", "stories:260k", "--raw", "--temperature", "0", "-n", "4", "--threads", "1", "--json", "Once upon a time");
        Assert.True(run.ExitCode == 0, run.Error);
        using (var doc = System.Text.Json.JsonDocument.Parse(run.Out))
        {
            Assert.Equal("stories:260k", doc.RootElement.GetProperty("model").GetString());
            Assert.Equal(4, doc.RootElement.GetProperty("output_tokens").GetInt32());
            Assert.StartsWith(", there was", doc.RootElement.GetProperty("text").GetString(), StringComparison.Ordinal);
        }
        Assert.DoesNotContain("never", (await Run("list")).Out, StringComparison.Ordinal);

        var rm = await Run("rm", "stories:260k");
        Assert.Equal(0, rm.ExitCode);
        Assert.Contains("1 unreferenced blob", rm.Out, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_temp, "home", "blobs", "sha256-" + hex)));
        Assert.Contains("removed 0 unreferenced blobs", (await Run("gc")).Out, StringComparison.Ordinal);

        var again = await Run("rm", "stories:260k");
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("not in the store", again.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunOfAMissingModelNamesTheExactPullCommand()
    {
        var r = await Run("run", "--model", "llama3.2:1b", "hi");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("models.auto_download is off", r.Error, StringComparison.Ordinal);
        Assert.Contains("hearth pull ollama.com/library/llama3.2:1b", r.Error, StringComparison.Ordinal);

        var hf = await Run("run", "--model", "hf.co/org/repo:Q4_K_M", "hi");
        Assert.Contains("hearth pull hf.co/org/repo:Q4_K_M", hf.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PullOfWrongDigestFailsWithOneLineAndStoresNothing()
    {
        var model = await File.ReadAllBytesAsync(Fixtures.Stories260K);
        using var server = new FakeHttpServer(r => FakeHttpServer.File(r, model));
        var r = await Run("pull", server.Url + "m.gguf", "--sha256", new string('0', 64));
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("sha256 mismatch", r.Error, StringComparison.Ordinal);
        Assert.Contains("no models", (await Run("list")).Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ImportFolderRegistersByHardLink()
    {
        var dir = Path.Combine(_temp, "models");
        Directory.CreateDirectory(dir);
        File.Copy(Fixtures.Stories260K, Path.Combine(dir, "stories-Q8_0.gguf"));
        var r = await Run("import", dir, "--from", "dir");
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.Contains("imported stories:Q8_0", r.Out, StringComparison.Ordinal);
        Assert.Contains("hard link", r.Out, StringComparison.Ordinal);
        Assert.Contains("1 model imported", r.Out, StringComparison.Ordinal);
        Assert.Equal(2, (await Run("import", dir, "--from", "nope")).ExitCode);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_temp, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
