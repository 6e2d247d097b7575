using System.Collections;
using Hearth.Configuration;
using Hearth.Runtime;
using Hearth.Store;
using Hearth.Tests.Shared;
using Microsoft.Extensions.AI;

namespace Hearth.Server.Tests;

/// <summary>A real server on 127.0.0.1:0 over a runtime whose store holds stories260K as <c>stories:260k</c>.</summary>
internal sealed class TestServer : IAsyncDisposable
{
    private TestServer(string home, HearthRuntime runtime, HearthServer server)
    {
        Home = home;
        Runtime = runtime;
        Server = server;
        Http = new HttpClient { BaseAddress = server.Address, Timeout = TimeSpan.FromMinutes(2) };
    }

    public const string Model = "stories:260k";

    public string Home { get; }

    public HearthRuntime Runtime { get; }

    public HearthServer Server { get; }

    public HttpClient Http { get; }

    public Uri Url => Server.Address;

    public static async Task<TestServer> StartAsync(HearthServerOptions? options = null, string yaml = "", IModelLoader? loader = null)
    {
        var home = Path.Combine(Path.GetTempPath(), "hearth-srv-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(home);
        // Loopback stand-ins for the public hubs, unless the test's YAML names its own (loopback) hub.
        var env = new Hashtable { ["HEARTH_HOME"] = home };
        if (!yaml.Contains("huggingface_url", StringComparison.Ordinal))
            env = OfflineSources.Apply(env);
        var (config, errors) = HearthConfigLoader.CheckText(yaml.Length == 0 ? "models: { default: stories:260k }\n" : yaml, environment: env);
        Assert.True(errors.Count == 0, string.Join("; ", errors));
        var store = ModelStore.Open(config);
        await new ModelPuller(store, config, new Hashtable()).PullAsync(Fixtures.Stories260K, new PullOptions { Name = Model });
        var runtime = HearthRuntime.Create(config, new HearthRuntimeOptions { Loader = loader, Threads = 1 });
        var server = await HearthServer.StartAsync(runtime, (options ?? new HearthServerOptions()) with { Port = 0 });
        return new TestServer(home, runtime, server);
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Server.DisposeAsync();
        Runtime.Dispose();
        try
        {
            Directory.Delete(Home, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>Models that answer only when released: to hold slots busy in queue tests.</summary>
internal sealed class GatedLoader : IModelLoader
{
    public TaskCompletionSource Gate { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public int Started;

    public int Cancelled;

    public ModelPlan Plan(string name) => new(name, "/gated/" + name, 1 << 20, null);

    public IChatClient Load(ModelPlan plan) => new GatedClient(this);

    private sealed class GatedClient(GatedLoader owner) : IChatClient
    {
        public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref owner.Started);
            try
            {
                await owner.Gate.Task.WaitAsync(cancellationToken);
            }
            catch (OperationCanceledException)
            {
                Interlocked.Increment(ref owner.Cancelled);
                throw;
            }

            return new ChatResponse(new ChatMessage(ChatRole.Assistant, "released")) { Usage = new UsageDetails { InputTokenCount = 1, OutputTokenCount = 1 } };
        }

        public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            yield return new ChatResponseUpdate(ChatRole.Assistant, "first ");
            var r = await GetResponseAsync(messages, options, cancellationToken);
            yield return new ChatResponseUpdate(ChatRole.Assistant, r.Text);
        }

        public object? GetService(Type serviceType, object? serviceKey = null) => null;

        public void Dispose()
        {
        }
    }
}
