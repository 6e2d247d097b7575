using Hearth.Engine.Model;
using Hearth.Engine.Runtime;

namespace Hearth.Engine.Kernels;

/// <summary>
/// y = W·x for up to three weights sharing one (already converted) input, split across the worker
/// pool by output rows in a single dispatch. The job object is allocated once per session and
/// reconfigured per call; nothing is allocated per product.
/// </summary>
internal sealed unsafe class MatMulJob : IParallelJob
{
    // Rows of one weight processed against a run of tokens while they stay in L1.
    private const int RowTile = 8;

    // Tokens whose converted activations are reused across a row tile while they stay in L2.
    private const int TokenTile = 32;

    private readonly WeightMatrix?[] _weights = new WeightMatrix?[3];
    private readonly nint[] _inputs = new nint[3];
    private readonly nint[] _inputStrides = new nint[3];
    private readonly nint[] _outputs = new nint[3];
    private readonly int[] _outputStrides = new int[3];
    private int _count;
    private int _tokens;
    private int _totalRows;
    private int _nextTile;

    /// <summary>Starts a new group of products over <paramref name="tokens"/> input rows.</summary>
    public void Reset(int tokens)
    {
        _count = 0;
        _tokens = tokens;
        _totalRows = 0;
        _nextTile = 0;
    }

    /// <summary>Adds W·x: <paramref name="input"/> is <see cref="Reset"/>'s token count rows of converted activations,
    /// <paramref name="inputStride"/> bytes apart; output row t starts at <paramref name="output"/> + t·<paramref name="outputStride"/> floats.</summary>
    public void Add(WeightMatrix w, byte* input, nint inputStride, float* output, int outputStride)
    {
        _weights[_count] = w;
        _inputs[_count] = (nint)input;
        _inputStrides[_count] = inputStride;
        _outputs[_count] = (nint)output;
        _outputStrides[_count] = outputStride;
        _count++;
        _totalRows += w.Rows;
    }

    /// <inheritdoc />
    public void Execute(int index, int count)
    {
        if (count == 1)
        {
            Range(0, _totalRows);
            return;
        }
        // Threads take runs of row tiles from a shared counter until none is left (about eight runs per thread), so a
        // thread that is slowed down (another process on its core, a slower core) takes fewer runs instead of holding
        // up the product: a fixed split waited for the slowest share. Each row is still computed by exactly one
        // thread with the same kernel, so the results do not depend on the schedule.
        var tiles = (_totalRows + RowTile - 1) / RowTile;
        var grab = Math.Max(1, tiles / (count * 8));
        while (true)
        {
            var first = Interlocked.Add(ref _nextTile, grab) - grab;
            if (first >= tiles)
                return;
            Range(first * RowTile, Math.Min(_totalRows, (first + grab) * RowTile));
        }
    }

    /// <summary>Rows [<paramref name="start"/>, <paramref name="end"/>) of the concatenated products.</summary>
    private void Range(int start, int end)
    {
        var offset = 0;
        for (var i = 0; i < _count && start < end; i++)
        {
            var w = _weights[i]!;
            var lo = Math.Max(start, offset) - offset;
            var hi = Math.Min(end, offset + w.Rows) - offset;
            if (lo < hi)
                Compute(w, (byte*)_inputs[i], _inputStrides[i], (float*)_outputs[i], _outputStrides[i], _tokens, lo, hi);
            offset += w.Rows;
        }
    }

    /// <summary>Rows [<paramref name="r0"/>, <paramref name="r1"/>) of W·x for <paramref name="tokens"/> inputs, on this thread.</summary>
    public static void Compute(WeightMatrix w, byte* x, nint xStride, float* y, int yStride, int tokens, int r0, int r1)
    {
        var dot = w.Kernel.Fast;
        var n = w.Cols;
        var rowBytes = w.RowBytes;
        if (tokens == 1)
        {
            var row = w.Row(r0);
            var r = r0;
            var rows2 = w.Kernel.Rows2;
            var half = (r1 - r0) / 2;
            if (rows2 != null && half > 0)
            {
                // Two rows per call, the activation loads shared: row r with row r + half, so the two weight streams
                // are in different pages (adjacent rows read in lockstep defeat the per-page stream prefetcher).
                var two = stackalloc float[2];
                var apart = half * rowBytes;
                for (var i = 0; i < half; i++, row += rowBytes)
                {
                    rows2(row, apart, x, n, two);
                    y[r0 + i] = two[0];
                    y[r0 + half + i] = two[1];
                }
                r = r0 + 2 * half;
                row = w.Row(r);
            }
            for (; r < r1; r++, row += rowBytes)
                y[r] = dot(row, x, n);
            return;
        }
        var multi = w.Kernel.Multi4;
        var four = stackalloc float[4];
        for (var t0 = 0; t0 < tokens; t0 += TokenTile)
        {
            var t1 = Math.Min(tokens, t0 + TokenTile);
            for (var rb = r0; rb < r1; rb += RowTile)
            {
                var re = Math.Min(r1, rb + RowTile);
                var t = t0;
                if (multi != null)
                {
                    // Four tokens per weight row: the row's blocks are decoded once for the four.
                    for (; t + 4 <= t1; t += 4)
                    {
                        var xt = x + t * xStride;
                        var yt = y + (nint)t * yStride;
                        var row = w.Row(rb);
                        for (var r = rb; r < re; r++, row += rowBytes)
                        {
                            multi(row, xt, xStride, n, four);
                            yt[r] = four[0];
                            yt[yStride + r] = four[1];
                            yt[2 * (nint)yStride + r] = four[2];
                            yt[3 * (nint)yStride + r] = four[3];
                        }
                    }
                }
                for (; t < t1; t++)
                {
                    var xt = x + t * xStride;
                    var yt = y + (nint)t * yStride;
                    var row = w.Row(rb);
                    for (var r = rb; r < re; r++, row += rowBytes)
                        yt[r] = dot(row, xt, n);
                }
            }
        }
    }
}
