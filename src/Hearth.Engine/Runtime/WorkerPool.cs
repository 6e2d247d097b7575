using System.Diagnostics;

namespace Hearth.Engine.Runtime;

/// <summary>A piece of work split across the pool's threads; implementations are allocated once and reused.</summary>
internal interface IParallelJob
{
    /// <summary>Runs this thread's share: thread <paramref name="index"/> of <paramref name="count"/>.</summary>
    void Execute(int index, int count);
}

/// <summary>
/// Persistent worker threads for the forward pass. On a two-core machine the cost of handing work to
/// another thread on every matrix product decides whether a second thread helps at all, so:
/// workers live as long as the pool, spin on a generation counter between jobs (for a couple of
/// milliseconds, then block), a dispatch is two interlocked operations and no allocation, and the
/// calling thread does share 0 itself.
/// </summary>
internal sealed class WorkerPool : IDisposable
{
    private static readonly long SpinTicks = Stopwatch.Frequency / 500; // 2 ms of spinning before blocking

    private readonly Thread[] _threads;
    private readonly object _gate = new();
    private IParallelJob? _job;
    private int _generation;
    private int _pending;
    private int _sleepers;
    private volatile bool _stopping;
    private Exception? _failure;

    /// <summary>Creates a pool of <paramref name="threadCount"/> threads in all (the caller counts as one).</summary>
    public WorkerPool(int threadCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threadCount, 1);
        ThreadCount = threadCount;
        _threads = new Thread[threadCount - 1];
        for (var i = 0; i < _threads.Length; i++)
        {
            var index = i + 1;
            _threads[i] = new Thread(() => WorkerLoop(index)) { IsBackground = true, Name = $"hearth-worker-{index}" };
            _threads[i].Start();
        }
    }

    /// <summary>Threads that run each job, the caller included.</summary>
    public int ThreadCount { get; }

    /// <summary>Physical cores (logical processors halved where SMT is detected on Linux), at least 1.</summary>
    public static int DefaultThreadCount => CpuInfo.PhysicalCores;

    /// <summary>Runs <paramref name="job"/> on every thread and returns when all shares are done.</summary>
    public void Run(IParallelJob job)
    {
        if (_threads.Length == 0)
        {
            job.Execute(0, 1);
            return;
        }
        ObjectDisposedException.ThrowIf(_stopping, this);
        _job = job;
        Volatile.Write(ref _pending, _threads.Length);
        Interlocked.Increment(ref _generation);
        if (Volatile.Read(ref _sleepers) > 0)
        {
            lock (_gate)
                Monitor.PulseAll(_gate);
        }
        Exception? own = null;
        try
        {
            job.Execute(0, ThreadCount);
        }
        catch (Exception e)
        {
            own = e;
        }
        var spinner = 0;
        while (Volatile.Read(ref _pending) != 0)
        {
            if (++spinner > 1_000_000)
                Thread.Yield();
            else
                Thread.SpinWait(1);
        }
        _job = null;
        if (own is not null)
            throw own;
        if (Interlocked.Exchange(ref _failure, null) is { } failure)
            throw new InvalidOperationException("A worker thread failed: " + failure.Message, failure);
    }

    private void WorkerLoop(int index)
    {
        var seen = 0;
        while (true)
        {
            var start = Stopwatch.GetTimestamp();
            var spins = 0;
            while (Volatile.Read(ref _generation) == seen && !_stopping)
            {
                Thread.SpinWait(4);
                if ((++spins & 255) == 0 && Stopwatch.GetTimestamp() - start > SpinTicks)
                {
                    lock (_gate)
                    {
                        Interlocked.Increment(ref _sleepers);
                        while (Volatile.Read(ref _generation) == seen && !_stopping)
                            Monitor.Wait(_gate);
                        Interlocked.Decrement(ref _sleepers);
                    }
                }
            }
            if (_stopping)
                return;
            seen = Volatile.Read(ref _generation);
            try
            {
                _job!.Execute(index, ThreadCount);
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref _failure, e, null);
            }
            Interlocked.Decrement(ref _pending);
        }
    }

    /// <summary>Stops the workers.</summary>
    public void Dispose()
    {
        if (_stopping)
            return;
        _stopping = true;
        lock (_gate)
            Monitor.PulseAll(_gate);
        foreach (var t in _threads)
            t.Join();
    }
}

/// <summary>CPU facts the engine's defaults use.</summary>
internal static class CpuInfo
{
    private static readonly Lazy<int> Physical = new(Detect);

    /// <summary>Physical core count (best effort), at least 1.</summary>
    public static int PhysicalCores => Physical.Value;

    private static int Detect()
    {
        var logical = Environment.ProcessorCount;
        try
        {
            // Linux: count distinct (physical id, core id) pairs among the CPUs this process may use.
            if (OperatingSystem.IsLinux() && File.Exists("/proc/cpuinfo"))
            {
                var cores = new HashSet<(string, string)>();
                string physical = "0", core = "";
                foreach (var line in File.ReadLines("/proc/cpuinfo"))
                {
                    if (line.StartsWith("physical id", StringComparison.Ordinal))
                        physical = line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim();
                    else if (line.StartsWith("core id", StringComparison.Ordinal))
                        core = line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim();
                    else if (line.Length == 0 && core.Length > 0)
                    {
                        cores.Add((physical, core));
                        core = "";
                    }
                }
                if (core.Length > 0)
                    cores.Add((physical, core));
                if (cores.Count > 0)
                    return Math.Max(1, Math.Min(cores.Count, logical));
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        return Math.Max(1, logical);
    }
}
