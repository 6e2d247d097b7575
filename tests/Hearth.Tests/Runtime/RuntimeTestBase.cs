using System.Collections;
using System.Text.Json.Nodes;
using Hearth.Configuration;
using Hearth.Runtime;
using Hearth.Tests.Shared;
using Microsoft.Extensions.AI;

namespace Hearth.Tests.Runtime;

/// <summary>A temporary HEARTH_HOME and a config built from YAML in it.</summary>
public abstract class RuntimeTestBase : IDisposable
{
    protected RuntimeTestBase()
    {
        Home = Path.Combine(Path.GetTempPath(), "hearth-rt-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Home);
    }

    protected string Home { get; }

    internal HearthConfig Config(string yaml)
    {
        var (c, errors) = HearthConfigLoader.CheckText(yaml, environment: OfflineSources.Apply(new Hashtable { ["HEARTH_HOME"] = Home }));
        Assert.True(errors.Count == 0, string.Join("; ", errors));
        return c;
    }

    /// <summary>Audit entries of one type, in order.</summary>
    internal List<JsonObject> AuditEntries(string type)
    {
        var dir = Path.Combine(Home, "audit");
        if (!Directory.Exists(dir))
            return [];
        return [.. Directory.GetFiles(dir, "audit-*.jsonl").Order(StringComparer.Ordinal)
            .SelectMany(File.ReadAllLines)
            .Where(l => l.Length > 0)
            .Select(l => JsonNode.Parse(l)!.AsObject())
            .Where(o => (string?)o["type"] == type)
            .Select(o => o["data"]!.AsObject())];
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Home, recursive: true);
        }
        catch (IOException)
        {
        }

        GC.SuppressFinalize(this);
    }
}

/// <summary>A loader of fake models with chosen sizes; counts loads and disposals.</summary>
internal sealed class FakeLoader(Dictionary<string, long> sizes) : IModelLoader
{
    private int _loads;

    public int Loads => Volatile.Read(ref _loads);

    public List<string> Disposed { get; } = [];

    public TimeSpan LoadDelay { get; init; }

    public ModelPlan Plan(string name)
        => sizes.TryGetValue(name, out var size)
            ? new ModelPlan(name, "/fake/" + name + ".gguf", size, "sha256:" + new string('0', 64))
            : throw new ModelUnavailableException($"model '{name}' is not in the store");

    public IChatClient Load(ModelPlan plan)
    {
        Interlocked.Increment(ref _loads);
        if (LoadDelay > TimeSpan.Zero)
            Thread.Sleep(LoadDelay);
        return new EchoClient(plan.Name, () =>
        {
            lock (Disposed)
                Disposed.Add(plan.Name);
        });
    }
}

/// <summary>Answers "echo: last user text" from model <paramref name="name"/>; can be made to wait.</summary>
internal sealed class EchoClient(string name, Action? onDispose = null) : IChatClient
{
    public TaskCompletionSource? Gate { get; set; }

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        if (Gate is { } g)
            await g.Task.WaitAsync(cancellationToken);
        var text = "echo: " + messages.Last().Text;
        return new ChatResponse(new ChatMessage(ChatRole.Assistant, text))
        {
            ModelId = name,
            Usage = new UsageDetails { InputTokenCount = 3, OutputTokenCount = 2 },
        };
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var r = await GetResponseAsync(messages, options, cancellationToken);
        yield return new ChatResponseUpdate(ChatRole.Assistant, r.Text) { ModelId = name };
        yield return new ChatResponseUpdate { Contents = [new UsageContent(r.Usage!)] };
    }

    public object? GetService(Type serviceType, object? serviceKey = null) => null;

    public void Dispose() => onDispose?.Invoke();
}
