using System.Globalization;
using Microsoft.Extensions.AI;

namespace Hearth.Runtime;

/// <summary>What a loader knows about a model before loading it.</summary>
/// <param name="Name">The name the caller asked for.</param>
/// <param name="Path">The file that will be mapped.</param>
/// <param name="EstimatedBytes">Memory the loaded model will hold: weights plus one context's KV cache and buffers.</param>
/// <param name="Digest">Content digest (<c>sha256:…</c>) when known, for the audit trail.</param>
internal sealed record ModelPlan(string Name, string Path, long EstimatedBytes, string? Digest);

/// <summary>Resolves model names and loads them; the host decides when.</summary>
internal interface IModelLoader
{
    /// <summary>Resolves <paramref name="name"/> and estimates its memory without loading it.</summary>
    ModelPlan Plan(string name);

    /// <summary>Loads the planned model; the returned client is disposed when the host unloads it.</summary>
    IChatClient Load(ModelPlan plan);
}

/// <summary>A model currently held by the host, as <c>hearth ps</c> and <c>/api/ps</c> show it.</summary>
/// <param name="Name">Model name.</param>
/// <param name="Path">Mapped file.</param>
/// <param name="EstimatedBytes">Memory charged against the budget.</param>
/// <param name="InFlight">Requests using it now.</param>
/// <param name="LoadedAt">When it finished loading.</param>
/// <param name="LastUsed">When its last request ended (or started, while in flight).</param>
/// <param name="ExpiresAt">When it will be unloaded if idle; null while pinned (<c>keep_alive: -1</c>) or in flight.</param>
/// <param name="Digest">Content digest when known.</param>
public sealed record LoadedModel(string Name, string Path, long EstimatedBytes, int InFlight, DateTimeOffset LoadedAt, DateTimeOffset LastUsed, DateTimeOffset? ExpiresAt, string? Digest);

/// <summary>A model cannot be loaded: not found, larger than the budget, or the budget is held by busy models.</summary>
public sealed class ModelUnavailableException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ModelUnavailableException() { }

    /// <summary>Creates the exception with a message.</summary>
    public ModelUnavailableException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and cause.</summary>
    public ModelUnavailableException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>True when the model exists but memory does not allow it now (retrying later may succeed).</summary>
    public bool Transient { get; init; }
}

/// <summary>
/// Keeps loaded models: loads lazily on first use, keeps each for its <c>keep_alive</c> after its last request
/// (0 = unload as soon as idle, negative = pinned), and stays within a memory budget by unloading the least recently
/// used idle models. A model with requests in flight is never unloaded; one loaded model serves concurrent requests.
/// </summary>
internal sealed class ModelHost : IDisposable
{
    private readonly IModelLoader _loader;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly ITimer? _sweeper;
    private bool _disposed;

    public ModelHost(IModelLoader loader, long memoryBudget, TimeSpan defaultKeepAlive, TimeProvider? time = null, bool startSweeper = true)
    {
        ArgumentNullException.ThrowIfNull(loader);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(memoryBudget);
        _loader = loader;
        MemoryBudget = memoryBudget;
        DefaultKeepAlive = defaultKeepAlive;
        _time = time ?? TimeProvider.System;
        if (startSweeper)
            _sweeper = _time.CreateTimer(_ => Sweep(), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
    }

    public long MemoryBudget { get; }

    public TimeSpan DefaultKeepAlive { get; }

    /// <summary>Bytes charged by loaded and loading models.</summary>
    public long UsedBytes
    {
        get
        {
            lock (_lock)
                return _entries.Values.Sum(e => e.Plan.EstimatedBytes);
        }
    }

    /// <summary>Models loaded now, most recently used first.</summary>
    public IReadOnlyList<LoadedModel> List()
    {
        lock (_lock)
        {
            return [.. _entries.Values.Where(e => e.Loaded)
                .OrderByDescending(e => e.LastUsed)
                .Select(e => new LoadedModel(e.Plan.Name, e.Plan.Path, e.Plan.EstimatedBytes, e.InFlight, e.LoadedAt, e.LastUsed,
                    e.InFlight > 0 || e.KeepAlive < TimeSpan.Zero ? null : e.LastUsed + e.KeepAlive, e.Plan.Digest))];
        }
    }

    /// <summary>
    /// Returns a lease on <paramref name="name"/>, loading it first if needed; dispose the lease when the request
    /// ends. <paramref name="keepAlive"/> (null = the default) sets how long it stays loaded after this request.
    /// </summary>
    public async Task<ModelLease> AcquireAsync(string name, TimeSpan? keepAlive = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        Entry entry;
        var evicted = new List<Entry>();
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_entries.TryGetValue(name, out entry!))
            {
                var plan = _loader.Plan(name);
                if (plan.EstimatedBytes > MemoryBudget)
                    throw new ModelUnavailableException(
                        $"model '{name}' needs about {Format(plan.EstimatedBytes)} but models.memory_budget is {Format(MemoryBudget)}; raise the budget or use a smaller quantization");
                var used = _entries.Values.Sum(e => e.Plan.EstimatedBytes);
                foreach (var idle in _entries.Values.Where(e => e.InFlight == 0 && e.Loaded).OrderBy(e => e.LastUsed).ToList())
                {
                    if (used + plan.EstimatedBytes <= MemoryBudget)
                        break;
                    _entries.Remove(idle.Plan.Name);
                    evicted.Add(idle);
                    used -= idle.Plan.EstimatedBytes;
                }

                if (used + plan.EstimatedBytes > MemoryBudget)
                {
                    var busy = string.Join(", ", _entries.Values.Select(e => $"{e.Plan.Name} ({Format(e.Plan.EstimatedBytes)}, {e.InFlight} in flight)"));
                    throw new ModelUnavailableException(
                        $"model '{name}' needs about {Format(plan.EstimatedBytes)} and the {Format(MemoryBudget)} memory budget is held by models with requests in flight: {busy}")
                    { Transient = true };
                }

                entry = new Entry(plan, _time.GetUtcNow());
                entry.Loading = Task.Run(() => _loader.Load(plan), CancellationToken.None);
                _entries[name] = entry;
            }

            entry.InFlight++;
            entry.LastUsed = _time.GetUtcNow();
            entry.KeepAlive = keepAlive ?? DefaultKeepAlive;
        }

        foreach (var e in evicted)
            e.DisposeClient();

        IChatClient client;
        try
        {
            client = await entry.Loading!.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            lock (_lock)
            {
                entry.InFlight--;
                if (entry.Loading!.IsFaulted && _entries.TryGetValue(name, out var current) && ReferenceEquals(current, entry))
                    _entries.Remove(name);
            }

            if (ex is OperationCanceledException)
                throw;
            throw new ModelUnavailableException($"model '{name}' failed to load from {entry.Plan.Path}: {ex.Message}", ex);
        }

        lock (_lock)
        {
            if (!entry.Loaded)
            {
                entry.Loaded = true;
                entry.LoadedAt = _time.GetUtcNow();
            }
        }

        return new ModelLease(this, entry, client);
    }

    /// <summary>Unloads <paramref name="name"/> now if it is idle; false when not loaded or busy.</summary>
    public bool Unload(string name)
    {
        Entry? entry;
        lock (_lock)
        {
            if (!_entries.TryGetValue(name, out entry) || entry.InFlight > 0 || !entry.Loaded)
                return false;
            _entries.Remove(name);
        }

        entry.DisposeClient();
        return true;
    }

    /// <summary>Unloads idle models whose keep-alive has passed.</summary>
    public int Sweep()
    {
        List<Entry> expired;
        lock (_lock)
        {
            if (_disposed)
                return 0;
            var now = _time.GetUtcNow();
            expired = [.. _entries.Values.Where(e => e.Loaded && e.InFlight == 0 && e.KeepAlive >= TimeSpan.Zero && e.LastUsed + e.KeepAlive <= now)];
            foreach (var e in expired)
                _entries.Remove(e.Plan.Name);
        }

        foreach (var e in expired)
            e.DisposeClient();
        return expired.Count;
    }

    private void Release(Entry entry, TimeSpan? keepAlive)
    {
        var unloadNow = false;
        lock (_lock)
        {
            entry.InFlight--;
            entry.LastUsed = _time.GetUtcNow();
            if (keepAlive is { } k)
                entry.KeepAlive = k;
            if (entry.InFlight == 0 && entry.KeepAlive == TimeSpan.Zero && _entries.TryGetValue(entry.Plan.Name, out var current) && ReferenceEquals(current, entry))
            {
                _entries.Remove(entry.Plan.Name);
                unloadNow = true;
            }
        }

        if (unloadNow)
            entry.DisposeClient();
    }

    public void Dispose()
    {
        List<Entry> all;
        lock (_lock)
        {
            if (_disposed)
                return;
            _disposed = true;
            all = [.. _entries.Values];
            _entries.Clear();
        }

        _sweeper?.Dispose();
        foreach (var e in all)
            e.DisposeClient();
    }

    internal static string Format(long bytes) => bytes >= 1L << 30
        ? (bytes / (double)(1L << 30)).ToString("0.0", CultureInfo.InvariantCulture) + " GiB"
        : (bytes / (double)(1L << 20)).ToString("0.0", CultureInfo.InvariantCulture) + " MiB";

    internal sealed class Entry(ModelPlan plan, DateTimeOffset now)
    {
        public ModelPlan Plan { get; } = plan;
        public Task<IChatClient>? Loading { get; set; }
        public bool Loaded { get; set; }
        public int InFlight { get; set; }
        public DateTimeOffset LoadedAt { get; set; } = now;
        public DateTimeOffset LastUsed { get; set; } = now;
        public TimeSpan KeepAlive { get; set; }

        public void DisposeClient()
        {
            if (Loading is { IsCompletedSuccessfully: true } t)
                t.Result.Dispose();
        }
    }

    /// <summary>Use of one loaded model by one request.</summary>
    internal sealed class ModelLease : IDisposable
    {
        private readonly ModelHost _host;
        private readonly Entry _entry;
        private int _released;

        internal ModelLease(ModelHost host, Entry entry, IChatClient client)
        {
            _host = host;
            _entry = entry;
            Client = client;
        }

        public IChatClient Client { get; }

        public ModelPlan Plan => _entry.Plan;

        /// <summary>Overrides the keep-alive applied when this lease ends.</summary>
        public TimeSpan? KeepAliveOnRelease { get; set; }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
                _host.Release(_entry, KeepAliveOnRelease);
        }
    }
}
