using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Hearth.Engine.Kernels;
using Hearth.Gguf;

namespace Hearth.Bench;

/// <summary>
/// Single-thread dot-kernel throughput: a weight matrix larger than the caches (decode-like, every byte read once per
/// pass) and one that fits in L2 (compute-bound), for the fast and the reference kernel of each type.
/// <c>dotnet run -c Release --project bench/Hearth.Bench -- kernels [types] [seconds]</c>
/// </summary>
internal static unsafe class KernelBench
{
    public static int Run(string[] args)
    {
        var types = (args.Length > 1 ? args[1] : "q4_0,q8_0,q2_k,q3_k,q4_k,q5_k,q6_k,iq4_xs")
            .Split(',').Select(s => Enum.Parse<GgmlType>(s, ignoreCase: true)).ToArray();
        var seconds = args.Length > 2 ? double.Parse(args[2], CultureInfo.InvariantCulture) : 1.0;
        const int cols = 2048;
        var rnd = new Random(1);
        var x = new float[cols];
        for (var i = 0; i < cols; i++)
            x[i] = (float)(rnd.NextDouble() * 2 - 1);
        Console.WriteLine("type     rows    MiB   fast GB/s  fast ns/row  ref ns/row  fast/ref");
        foreach (var type in types)
        {
            var kernel = WeightKernel.TryGet(type) ?? throw new InvalidOperationException($"no kernel for {type}");
            var rowBytes = (int)GgmlTypeTraits.Get(type).RowBytes(cols);
            foreach (var rows in new[] { 256, 32768 })
            {
                var w = (byte*)NativeMemory.AlignedAlloc((nuint)((long)rowBytes * rows), 64);
                var row = new float[cols];
                var q = new byte[rowBytes];
                for (var r = 0; r < Math.Min(rows, 256); r++)
                {
                    for (var i = 0; i < cols; i++)
                        row[i] = (float)(rnd.NextDouble() * 2 - 1) * 0.05f;
                    if (GgmlQuantize.IsSupported(type))
                        GgmlQuantize.Quantize(type, row, q);
                    else
                        RandomBlocks(type, q, rnd);
                    for (var copy = r; copy < rows; copy += 256)
                        q.CopyTo(new Span<byte>(w + (long)copy * rowBytes, rowBytes));
                }
                var act = (byte*)NativeMemory.AlignedAlloc((nuint)ActivationQuantizer.RowBytes(kernel.Activation, cols), 64);
                fixed (float* xp = x)
                    ActivationQuantizer.Quantize(kernel.Activation, xp, act, cols);
                if (kernel.Rows2 != null)
                {
                    var two = TimeRows2(kernel.Rows2, w, act, rows, rowBytes, cols, seconds);
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{type + "/rows2",-9} {rows,6} {(double)rowBytes * rows / 1048576,6:F1}  {rowBytes / two,9:F2}  {two,11:F1}"));
                }
                var fast = Time(kernel.Fast, w, act, rows, rowBytes, cols, seconds);
                var reference = rows == 256 ? Time(kernel.Reference, w, act, rows, rowBytes, cols, seconds / 2) : double.NaN;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{type,-7} {rows,6} {(double)rowBytes * rows / 1048576,6:F1}  {rowBytes / fast,9:F2}  {fast,11:F1}  {reference,10:F1}  {(rows == 256 ? reference / fast : double.NaN),8:F1}"));
                NativeMemory.AlignedFree(w);
                NativeMemory.AlignedFree(act);
            }
        }
        return 0;
    }

    /// <summary>Random quants with a small finite fp16 scale at the start of every block (iq4_xs: d comes first).</summary>
    private static void RandomBlocks(GgmlType type, byte[] q, Random rnd)
    {
        rnd.NextBytes(q);
        var blockBytes = GgmlTypeTraits.Get(type).TypeSize;
        for (var o = 0; o < q.Length; o += blockBytes)
            BitConverter.TryWriteBytes(q.AsSpan(o), BitConverter.HalfToUInt16Bits((Half)0.01f));
    }

    private static double TimeRows2(delegate*<byte*, nint, byte*, int, float*, void> dot, byte* w, byte* act, int rows, int rowBytes, int cols, double seconds)
    {
        var two = stackalloc float[2];
        float sink = 0;
        // Row r with row r + rows/2, as the engine pairs them: two streams in different pages (two adjacent rows read
        // in lockstep look like one page read back and forth, which defeats the stream prefetcher).
        var half = rows / 2;
        var sw = Stopwatch.StartNew();
        long done = 0;
        while (sw.Elapsed.TotalSeconds < seconds)
        {
            for (var r = 0; r < half; r++)
            {
                dot(w + (long)r * rowBytes, (nint)half * rowBytes, act, cols, two);
                sink += two[0] + two[1];
            }
            done += rows;
        }
        if (float.IsNaN(sink) && sink == 1)
            Console.WriteLine();
        return sw.Elapsed.TotalNanoseconds / done;
    }

    private static double Time(delegate*<byte*, byte*, int, float> dot, byte* w, byte* act, int rows, int rowBytes, int cols, double seconds)
    {
        float sink = 0;
        for (var r = 0; r < rows; r++)
            sink += dot(w + (long)r * rowBytes, act, cols);
        var sw = Stopwatch.StartNew();
        long done = 0;
        while (sw.Elapsed.TotalSeconds < seconds)
        {
            for (var r = 0; r < rows; r++)
                sink += dot(w + (long)r * rowBytes, act, cols);
            done += rows;
        }
        if (float.IsNaN(sink) && sink == 1)
            Console.WriteLine();
        return sw.Elapsed.TotalNanoseconds / done;
    }
}
