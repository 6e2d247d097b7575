using System.Collections;
using System.Text.Json.Nodes;
using Hearth.Tests.Shared;
using Hearth.Tests.Store;

namespace Hearth.Cli.Tests;

/// <summary><c>hearth setup FILE.yaml</c> (pull, verify, smoke prompt, offline report) and doctor's store check.</summary>
public sealed class SetupCommandTests : IDisposable
{
    private readonly string _temp = Path.Combine(Path.GetTempPath(), "hearth-cli-setup-" + Guid.NewGuid().ToString("N"));
    private readonly Hashtable _env;

    public SetupCommandTests()
    {
        Directory.CreateDirectory(_temp);
        _env = new Hashtable { ["HEARTH_HOME"] = Path.Combine(_temp, "home") };
    }

    private Task<CliRunner.Result> Run(params string[] args) => CliRunner.RunAsync(_env, args);

    private string Config(string name, string yaml)
    {
        var path = Path.Combine(_temp, name);
        File.WriteAllText(path, yaml);
        return path;
    }

    private static Dictionary<string, JsonNode> Models(string json)
        => JsonNode.Parse(json)!["models"]!.AsArray().ToDictionary(m => (string)m!["origin"]!, m => m!);

    [Fact]
    public async Task SetupPullsVerifiesAndSmokeTestsEveryConfiguredModel()
    {
        var model = await File.ReadAllBytesAsync(Fixtures.Stories260K);
        using var server = new FakeHttpServer(r => r.Path == "/dl/stories260K-Q8_0.gguf" ? FakeHttpServer.File(r, model) : FakeHttpServer.Text(404, "no"));
        var path = Config("first.yaml", $"models:\n  default: {Fixtures.Stories260K}\ndomains:\n  stories: {{ model: '{server.Url}dl/stories260K-Q8_0.gguf' }}\n");

        var r = await Run("setup", path, "--json");
        Assert.True(r.ExitCode == 0, r.Error + r.Out);
        Assert.True((bool)JsonNode.Parse(r.Out)!["ready"]!);
        var models = Models(r.Out);
        Assert.Equal(2, models.Count);
        Assert.Equal("file", (string)models["models.default"]["source"]!);
        var pulled = models["domains.stories"];
        Assert.True((bool)pulled["ready"]!);
        Assert.StartsWith("pulled from http://127.0.0.1", (string)pulled["source"]!, StringComparison.Ordinal);
        Assert.EndsWith("sha256-" + FakeHttpServer.Sha256(model), (string)pulled["path"]!, StringComparison.Ordinal);
        Assert.Contains("loads and answers", (string)pulled["detail"]!, StringComparison.Ordinal);
        Assert.Equal(model.Length, server.BodyBytesSent);

        // A configuration naming the stored model by reference: verified in the store, nothing downloaded.
        var second = Config("second.yaml", "models:\n  default: stories260k:Q8_0\n");
        var table = await Run("setup", second);
        Assert.True(table.ExitCode == 0, table.Error + table.Out);
        Assert.Contains("store (verified)", table.Out, StringComparison.Ordinal);
        Assert.Contains("1 model ready for offline use", table.Out, StringComparison.Ordinal);
        Assert.Single(server.Requests);
    }

    [Fact]
    public async Task SetupFailsNamingEachModelThatIsNotReadyAndWhy()
    {
        var copy = Path.Combine(_temp, "copy.gguf");
        File.Copy(Fixtures.Stories260K, copy);
        var pull = await Run("pull", copy, "--name", "stories:260k");
        Assert.True(pull.ExitCode == 0, pull.Error);
        var blob = Directory.GetFiles(Path.Combine(_temp, "home", "blobs")).Single();
        Corrupt(blob);

        var path = Config("bad.yaml", "models:\n  default: stories:260k\ndomains:\n  chat: { model: ./missing.gguf }\n");
        var r = await Run("setup", path, "--json");
        Assert.Equal(1, r.ExitCode);
        Assert.False((bool)JsonNode.Parse(r.Out)!["ready"]!);
        var models = Models(r.Out);
        Assert.False((bool)models["models.default"]["ready"]!);
        Assert.Contains("corrupted", (string)models["models.default"]["detail"]!, StringComparison.Ordinal);
        Assert.False((bool)models["domains.chat"]["ready"]!);
        Assert.Contains("stories:260k (models.default) is not ready", r.Error, StringComparison.Ordinal);
        Assert.Contains("./missing.gguf (domains.chat) is not ready", r.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DoctorReHashesTheStoreAndNamesACorruptedModel()
    {
        var copy = Path.Combine(_temp, "copy.gguf");
        File.Copy(Fixtures.Stories260K, copy);
        Assert.Equal(0, (await Run("pull", copy, "--name", "tiny:1")).ExitCode);

        var ok = await Run("doctor", "--json");
        var store = JsonNode.Parse(ok.Out)!["checks"]!.AsArray().Single(c => (string)c!["check"]! == "store")!;
        Assert.Equal("ok", (string)store["status"]!);

        Corrupt(Directory.GetFiles(Path.Combine(_temp, "home", "blobs")).Single());
        var r = await Run("doctor", "--json");
        Assert.Equal(1, r.ExitCode);
        store = JsonNode.Parse(r.Out)!["checks"]!.AsArray().Single(c => (string)c!["check"]! == "store")!;
        Assert.Equal("fail", (string)store["status"]!);
        Assert.Contains("tiny:1", (string)store["detail"]!, StringComparison.Ordinal);
        Assert.Contains("corrupted", (string)store["detail"]!, StringComparison.Ordinal);
    }

    private static void Corrupt(string file)
    {
        File.SetAttributes(file, FileAttributes.Normal);
        var bytes = File.ReadAllBytes(file);
        bytes[^100] ^= 0xFF;
        File.WriteAllBytes(file, bytes);
    }

    public void Dispose()
    {
        try
        {
            foreach (var f in Directory.EnumerateFiles(_temp, "*", SearchOption.AllDirectories))
                File.SetAttributes(f, FileAttributes.Normal);
            Directory.Delete(_temp, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
