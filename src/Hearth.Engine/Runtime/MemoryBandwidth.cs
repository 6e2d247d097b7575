using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Hearth.Engine.Runtime;

/// <summary>Result of <see cref="MemoryBandwidth.Measure"/>.</summary>
/// <param name="BytesPerSecond">Best read rate over the passes.</param>
/// <param name="Threads">Threads that read.</param>
/// <param name="Bytes">Size of the buffer read per pass.</param>
/// <param name="Checksum">Sum of the buffer's 64-bit words (wrapping), so the reads cannot be optimised away and the summing can be tested.</param>
internal readonly record struct BandwidthResult(double BytesPerSecond, int Threads, long Bytes, ulong Checksum)
{
    /// <summary>Tokens/s a generation step that reads <paramref name="weightBytes"/> once per token can never exceed.</summary>
    public double CeilingTokensPerSecond(long weightBytes) => weightBytes > 0 ? BytesPerSecond / weightBytes : 0;
}

/// <summary>
/// Memory read bandwidth, the ceiling for token generation: every weight is read once per generated token, so
/// tokens/s ≤ bandwidth ÷ weight bytes. Sums a buffer far larger than the caches with the same worker pool and
/// thread count the engine uses, and keeps the best of several passes (the way BENCHMARKS.md's figure was taken).
/// </summary>
internal static class MemoryBandwidth
{
    /// <summary>Reads a <paramref name="bytes"/>-byte native buffer <paramref name="passes"/> times on <paramref name="threads"/> threads.</summary>
    public static unsafe BandwidthResult Measure(long bytes, int threads, int passes = 3)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bytes, 4096);
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(passes, 1);
        var words = bytes / sizeof(ulong);
        var buffer = (ulong*)NativeMemory.AlignedAlloc((nuint)(words * sizeof(ulong)), 64);
        try
        {
            // Touch every page (and give the words distinct values) before timing.
            for (long i = 0; i < words; i++)
                buffer[i] = (ulong)i;
            using var pool = new WorkerPool(threads);
            var job = new SumJob(buffer, words, threads);
            var best = double.MaxValue;
            ulong checksum = 0;
            for (var p = 0; p < passes; p++)
            {
                var start = Stopwatch.GetTimestamp();
                pool.Run(job);
                var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
                best = Math.Min(best, seconds);
                checksum = job.Total();
            }
            return new BandwidthResult(words * sizeof(ulong) / best, threads, words * sizeof(ulong), checksum);
        }
        finally
        {
            NativeMemory.AlignedFree(buffer);
        }
    }

    /// <summary>Scalar reference of one share's sum (wrapping 64-bit addition).</summary>
    internal static ulong SumScalar(ReadOnlySpan<ulong> words)
    {
        ulong sum = 0;
        foreach (var w in words)
            sum += w;
        return sum;
    }

    /// <summary>Vectorised sum of <paramref name="words"/>: four independent accumulators to keep loads in flight.</summary>
    internal static ulong Sum(ReadOnlySpan<ulong> words)
    {
        var i = 0;
        ulong sum = 0;
        if (Vector512.IsHardwareAccelerated && words.Length >= 32)
        {
            Vector512<ulong> a0 = default, a1 = default, a2 = default, a3 = default;
            ref var r = ref MemoryMarshal.GetReference(words);
            for (; i + 32 <= words.Length; i += 32)
            {
                a0 += Vector512.LoadUnsafe(ref r, (nuint)i);
                a1 += Vector512.LoadUnsafe(ref r, (nuint)(i + 8));
                a2 += Vector512.LoadUnsafe(ref r, (nuint)(i + 16));
                a3 += Vector512.LoadUnsafe(ref r, (nuint)(i + 24));
            }
            sum = Vector512.Sum(a0 + a1 + a2 + a3);
        }
        else if (Vector256.IsHardwareAccelerated && words.Length >= 16)
        {
            Vector256<ulong> a0 = default, a1 = default, a2 = default, a3 = default;
            ref var r = ref MemoryMarshal.GetReference(words);
            for (; i + 16 <= words.Length; i += 16)
            {
                a0 += Vector256.LoadUnsafe(ref r, (nuint)i);
                a1 += Vector256.LoadUnsafe(ref r, (nuint)(i + 4));
                a2 += Vector256.LoadUnsafe(ref r, (nuint)(i + 8));
                a3 += Vector256.LoadUnsafe(ref r, (nuint)(i + 12));
            }
            sum = Vector256.Sum(a0 + a1 + a2 + a3);
        }
        return sum + SumScalar(words[i..]);
    }

    private sealed unsafe class SumJob(ulong* buffer, long words, int shares) : IParallelJob
    {
        private readonly ulong[] _partial = new ulong[shares * 8]; // one cache line per share

        public void Execute(int index, int count)
        {
            var per = (words + count - 1) / count;
            var start = Math.Min(words, per * index);
            var end = Math.Min(words, start + per);
            ulong sum = 0;
            // Spans are int-sized; walk the share in chunks.
            for (var s = start; s < end; s += int.MaxValue / 8)
            {
                var n = (int)Math.Min(end - s, int.MaxValue / 8);
                sum += Sum(new ReadOnlySpan<ulong>(buffer + s, n));
            }
            _partial[index * 8] = sum;
        }

        public ulong Total()
        {
            ulong t = 0;
            for (var i = 0; i < _partial.Length; i += 8)
                t += _partial[i];
            return t;
        }
    }
}
