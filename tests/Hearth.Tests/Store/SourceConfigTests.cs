using Hearth.Configuration;

namespace Hearth.Tests.Store;

/// <summary>The store's source base URLs (models.huggingface_url, models.ollama_registry_url): defaults, overrides, errors.</summary>
public sealed class SourceConfigTests
{
    [Fact]
    public void DefaultsAreThePublicHubAndRegistry()
    {
        // Parsing only: the defaults are compared as values; nothing here opens a connection.
        var publicHub = new Uri("https://huggingface.co/" // not contacted: compared as a value
        );
        var publicRegistry = new Uri("https://registry.ollama.ai/" // not contacted: compared as a value
        );
        var (c, errors) = HearthConfigLoader.CheckText("models:\n  auto_download: false\n");
        Assert.Empty(errors);
        Assert.Equal(publicHub, c.Models.HuggingFaceUrl);
        Assert.Equal(publicRegistry, c.Models.OllamaRegistryUrl);
    }

    [Fact]
    public async Task TestsWithoutAHubServerReachOnlyLoopbackStandIns()
    {
        // The safety net behind every store and runtime test: configurations built by the test helpers name loopback
        // stand-ins for the public hubs, so a pull that nobody meant to send goes to 127.0.0.1:9 and is refused there.
        using var store = new StoreFixture();
        var config = store.Config();
        Assert.True(config.Models.HuggingFaceUrl.IsLoopback, config.Models.HuggingFaceUrl.ToString());
        Assert.True(config.Models.OllamaRegistryUrl.IsLoopback, config.Models.OllamaRegistryUrl.ToString());
        foreach (var source in new[] { "hf.co/org/repo", "ollama.com/library/stories:260k" })
        {
            var ex = await Assert.ThrowsAnyAsync<Exception>(() => store.Puller().PullAsync(source));
            Assert.Contains("127.0.0.1:9", ex.ToString(), StringComparison.Ordinal);
        }
    }

    private sealed class StoreFixture : StoreTestBase;

    [Fact]
    public void MirrorsAreConfigurableAndBadValuesNameTheKeyAndLine()
    {
        // Parsing only, and the hosts are under .invalid (RFC 6761): they can never resolve, so even a bug that
        // tried to contact them could not send a packet off this machine.
        var (c, errors) = HearthConfigLoader.CheckText("models:\n  huggingface_url: http://hf-mirror.invalid:8080/hf/\n  ollama_registry_url: http://ollama-mirror.invalid:5000\n");
        Assert.Empty(errors);
        Assert.Equal(new Uri("http://hf-mirror.invalid:8080/hf/"), c.Models.HuggingFaceUrl);
        Assert.Equal(new Uri("http://ollama-mirror.invalid:5000/"), c.Models.OllamaRegistryUrl);

        var (_, bad) = HearthConfigLoader.CheckText("models:\n  huggingface_url: ftp://mirror\n");
        var e = Assert.Single(bad);
        Assert.Equal("models.huggingface_url", e.Key);
        Assert.Equal(2, e.Origin.Line);
        Assert.Contains("scheme 'ftp'", e.Message, StringComparison.Ordinal);
    }
}
