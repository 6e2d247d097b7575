using Hearth.Runtime;
using Hearth.Tests.Shared;
using Microsoft.Extensions.AI;

namespace Hearth.Tests.Runtime;

public sealed class ModelHostTests
{
    private const long MiB = 1 << 20;

    private sealed class ManualTime : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

        public override DateTimeOffset GetUtcNow() => Now;
    }

    private static (ModelHost Host, FakeLoader Loader, ManualTime Time) Create(long budget = 100 * MiB, TimeSpan? keepAlive = null)
    {
        var loader = new FakeLoader(new() { ["a"] = 40 * MiB, ["b"] = 40 * MiB, ["c"] = 40 * MiB, ["huge"] = 500 * MiB });
        var time = new ManualTime();
        return (new ModelHost(loader, budget, keepAlive ?? TimeSpan.FromMinutes(5), time, startSweeper: false), loader, time);
    }

    [Fact]
    public async Task Loads_lazily_once_and_serves_concurrent_requests_from_one_model()
    {
        var (host, loader, _) = Create();
        using var _h = host;
        Assert.Empty(host.List());
        Assert.Equal(0, loader.Loads);

        var leases = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => host.AcquireAsync("a")));
        Assert.Equal(1, loader.Loads);
        Assert.All(leases, l => Assert.Same(leases[0].Client, l.Client));
        var listed = Assert.Single(host.List());
        Assert.Equal(8, listed.InFlight);
        Assert.Null(listed.ExpiresAt);

        var answers = await Task.WhenAll(leases.Select((l, i) => l.Client.GetResponseAsync([new ChatMessage(ChatRole.User, "q" + i)])));
        Assert.Equal(Enumerable.Range(0, 8).Select(i => "echo: q" + i), answers.Select(a => a.Text));
        foreach (var l in leases)
            l.Dispose();
        Assert.Equal(0, host.List()[0].InFlight);
    }

    [Fact]
    public async Task Keep_alive_expires_idle_models_and_a_request_renews_it()
    {
        var (host, loader, time) = Create(keepAlive: TimeSpan.FromMinutes(5));
        using var _h = host;
        (await host.AcquireAsync("a")).Dispose();
        Assert.Equal(time.Now + TimeSpan.FromMinutes(5), host.List()[0].ExpiresAt);

        time.Now += TimeSpan.FromMinutes(4);
        Assert.Equal(0, host.Sweep());
        (await host.AcquireAsync("a")).Dispose();
        time.Now += TimeSpan.FromMinutes(4);
        Assert.Equal(0, host.Sweep());
        Assert.Single(host.List());

        time.Now += TimeSpan.FromMinutes(2);
        Assert.Equal(1, host.Sweep());
        Assert.Empty(host.List());
        Assert.Equal(["a"], loader.Disposed);
        Assert.Equal(1, loader.Loads);
    }

    [Fact]
    public async Task Keep_alive_zero_unloads_when_idle_and_negative_pins()
    {
        var (host, loader, time) = Create();
        using var _h = host;
        (await host.AcquireAsync("a", TimeSpan.Zero)).Dispose();
        Assert.Empty(host.List());
        Assert.Equal(["a"], loader.Disposed);

        (await host.AcquireAsync("b", TimeSpan.FromSeconds(-1))).Dispose();
        time.Now += TimeSpan.FromDays(30);
        Assert.Equal(0, host.Sweep());
        var pinned = Assert.Single(host.List());
        Assert.Equal("b", pinned.Name);
        Assert.Null(pinned.ExpiresAt);
    }

    [Fact]
    public async Task A_model_in_use_is_not_unloaded_by_keep_alive_zero_until_its_last_request_ends()
    {
        var (host, loader, _) = Create();
        using var _h = host;
        var first = await host.AcquireAsync("a", TimeSpan.Zero);
        var second = await host.AcquireAsync("a", TimeSpan.Zero);
        first.Dispose();
        Assert.Single(host.List());
        Assert.Empty(loader.Disposed);
        second.Dispose();
        Assert.Empty(host.List());
        Assert.Equal(["a"], loader.Disposed);
    }

    [Fact]
    public async Task Budget_evicts_the_least_recently_used_idle_model()
    {
        var (host, loader, time) = Create(budget: 100 * MiB);
        using var _h = host;
        (await host.AcquireAsync("a")).Dispose();
        time.Now += TimeSpan.FromSeconds(1);
        (await host.AcquireAsync("b")).Dispose();
        time.Now += TimeSpan.FromSeconds(1);
        (await host.AcquireAsync("a")).Dispose(); // a is now more recent than b
        time.Now += TimeSpan.FromSeconds(1);

        (await host.AcquireAsync("c")).Dispose();
        Assert.Equal(["b"], loader.Disposed);
        Assert.Equal(["a", "c"], host.List().Select(m => m.Name).Order());
        Assert.True(host.UsedBytes <= host.MemoryBudget);
    }

    [Fact]
    public async Task Never_evicts_a_model_with_requests_in_flight()
    {
        var (host, loader, _) = Create(budget: 100 * MiB);
        using var _h = host;
        using var a = await host.AcquireAsync("a");
        using var b = await host.AcquireAsync("b");
        var ex = await Assert.ThrowsAsync<ModelUnavailableException>(() => host.AcquireAsync("c"));
        Assert.True(ex.Transient);
        Assert.Contains("in flight", ex.Message, StringComparison.Ordinal);
        Assert.Contains("'c'", ex.Message, StringComparison.Ordinal);
        Assert.Empty(loader.Disposed);
        Assert.Equal(2, host.List().Count);

        b.Dispose();
        (await host.AcquireAsync("c")).Dispose();
        Assert.Equal(["b"], loader.Disposed);
    }

    [Fact]
    public async Task Refuses_a_model_larger_than_the_budget_with_its_size_and_the_budget()
    {
        var (host, loader, _) = Create(budget: 100 * MiB);
        using var _h = host;
        var ex = await Assert.ThrowsAsync<ModelUnavailableException>(() => host.AcquireAsync("huge"));
        Assert.Contains("500.0 MiB", ex.Message, StringComparison.Ordinal);
        Assert.Contains("100.0 MiB", ex.Message, StringComparison.Ordinal);
        Assert.Contains("memory_budget", ex.Message, StringComparison.Ordinal);
        Assert.False(ex.Transient);
        Assert.Equal(0, loader.Loads);
        await Assert.ThrowsAsync<ModelUnavailableException>(() => host.AcquireAsync("missing"));
    }

    [Fact]
    public void Estimate_from_gguf_metadata_covers_weights_and_kv_cache()
    {
        using var file = Hearth.Gguf.GgufFile.Open(Fixtures.Stories260K);
        var estimate = EmbeddedModelLoader.Estimate(file);
        var weights = file.Tensors.Sum(t => t.ByteSize);
        var md = file.Metadata;
        var kv = md.BlockCount!.Value * Math.Min(md.ContextLength!.Value, 4096) * md.HeadCountKv!.Value * (md.KeyLength!.Value + md.ValueLength!.Value) * 4;
        Assert.True(estimate >= weights + kv, $"{estimate} < {weights} + {kv}");
        Assert.True(estimate < (weights + kv) * 4, $"{estimate} is implausibly large");
    }

    [Fact]
    public async Task Embedded_loader_serves_a_real_model_by_path()
    {
        var loader = new EmbeddedModelLoader(store: null, threads: 1);
        using var host = new ModelHost(loader, 1L << 30, TimeSpan.FromMinutes(1), startSweeper: false);
        using var lease = await host.AcquireAsync(Fixtures.Stories260K);
        var r = await lease.Client.GetResponseAsync([new ChatMessage(ChatRole.User, "Once upon a time")], new ChatOptions { MaxOutputTokens = 8, Temperature = 0 });
        Assert.False(string.IsNullOrWhiteSpace(r.Text));
        Assert.InRange(r.Usage!.OutputTokenCount!.Value, 1, 8);
        var missing = Assert.Throws<ModelUnavailableException>(() => loader.Plan("nothere:latest"));
        Assert.Contains("hearth pull", missing.Message, StringComparison.Ordinal);
    }
}
