using System.Collections;
using Hearth.Configuration;
using Hearth.Store;
using Hearth.Tests.Shared;

namespace Hearth.Tests.Store;

/// <summary>A fresh store in a temp directory (same file system as the fixture copies), deleted afterwards.</summary>
public abstract class StoreTestBase : IDisposable
{
    protected StoreTestBase()
    {
        Temp = Path.Combine(Path.GetTempPath(), "hearth-store-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Temp);
        Home = Path.Combine(Temp, "home");
        Store = new ModelStore(Home);
        Model = File.ReadAllBytes(Fixtures.Stories260K);
        ModelHex = FakeHttpServer.Sha256(Model);
    }

    protected string Temp { get; }

    protected string Home { get; }

    internal ModelStore Store { get; }

    protected byte[] Model { get; }

    protected string ModelHex { get; }

    /// <summary>A configuration whose store is <see cref="Home"/> and whose HF/Ollama base URLs point at <paramref name="server"/>
    /// (or, without one, at <see cref="OfflineSources"/>' loopback stand-ins).</summary>
    internal HearthConfig Config(Uri? server = null)
    {
        var env = new Hashtable { ["HEARTH_HOME"] = Home };
        var (c, errors) = HearthConfigLoader.CheckText("models:\n  auto_download: false\n", environment: env);
        Assert.Empty(errors);
        // Without a protocol server of its own a test gets loopback stand-ins, never the public hubs.
        return c with { Models = c.Models with { HuggingFaceUrl = server ?? OfflineSources.HuggingFaceUrl, OllamaRegistryUrl = server ?? OfflineSources.OllamaRegistryUrl } };
    }

    internal ModelPuller Puller(Uri? server = null, int attempts = 4, IDictionary? env = null)
        => new(Store, Config(server), env ?? new Hashtable()) { MaxAttempts = attempts, RetryDelay = TimeSpan.Zero };

    /// <summary>Copies the model fixture into the temp directory (so hard links to it are possible).</summary>
    protected string CopyModel(string relative)
    {
        var path = Path.Combine(Temp, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, Model);
        return path;
    }

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        try
        {
            foreach (var f in Directory.EnumerateFiles(Temp, "*", SearchOption.AllDirectories))
                File.SetAttributes(f, FileAttributes.Normal);
            Directory.Delete(Temp, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
