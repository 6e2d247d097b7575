using Hearth.Gguf;

namespace Hearth.Engine.Kernels;

/// <summary>
/// Float32 → ggml block quantizers for the types the synthetic-model generator writes (Q8_0, Q5_0,
/// Q4_K, Q6_K). Simple round-to-nearest with per-block scales: the formats are exact, the choice of
/// scales is not ggml's search, so bytes differ from llama-quantize (only round-trip error is tested).
/// </summary>
internal static class WeightQuantizer
{
    /// <summary>Types <see cref="Quantize"/> handles.</summary>
    public static IReadOnlyList<GgmlType> SupportedTypes { get; } = [GgmlType.F32, GgmlType.F16, GgmlType.Q8_0, GgmlType.Q5_0, GgmlType.Q4_K, GgmlType.Q6_K];

    /// <summary>Quantizes a row (length a multiple of the block size) into <paramref name="dst"/> (the type's row size).</summary>
    public static void Quantize(GgmlType type, ReadOnlySpan<float> x, Span<byte> dst)
    {
        var traits = GgmlTypeTraits.Get(type);
        if (x.Length % traits.BlockSize != 0)
            throw new ArgumentException($"{x.Length} values are not whole {traits.Name} blocks of {traits.BlockSize}.", nameof(x));
        if (dst.Length != traits.RowBytes(x.Length))
            throw new ArgumentException($"{x.Length} {traits.Name} values need {traits.RowBytes(x.Length)} bytes, got {dst.Length}.", nameof(dst));
        var blocks = x.Length / traits.BlockSize;
        for (var b = 0; b < blocks; b++)
        {
            var xb = x.Slice(b * traits.BlockSize, traits.BlockSize);
            var yb = dst.Slice(b * traits.TypeSize, traits.TypeSize);
            switch (type)
            {
                case GgmlType.F32: BitConverter.TryWriteBytes(yb, xb[0]); break;
                case GgmlType.F16: BitConverter.TryWriteBytes(yb, Half16.FromSingle(xb[0])); break;
                case GgmlType.Q8_0: Q8_0(xb, yb); break;
                case GgmlType.Q5_0: Q5_0(xb, yb); break;
                case GgmlType.Q4_K: Q4_K(xb, yb); break;
                case GgmlType.Q6_K: Q6_K(xb, yb); break;
                default: throw new NotSupportedException($"Quantizing to {traits.Name} is not supported (supported: q8_0, q5_0, q4_K, q6_K, f16, f32).");
            }
        }
    }

    private static void WriteHalf(Span<byte> y, float v) => BitConverter.TryWriteBytes(y, Half16.FromSingle(v));

    private static void Q8_0(ReadOnlySpan<float> x, Span<byte> y)
    {
        float amax = 0;
        foreach (var v in x)
            amax = MathF.Max(amax, MathF.Abs(v));
        var d = amax / 127f;
        var id = d != 0 ? 1f / d : 0f;
        WriteHalf(y, d);
        for (var j = 0; j < 32; j++)
            y[2 + j] = (byte)(sbyte)Math.Clamp((int)MathF.Round(x[j] * id), -127, 127);
    }

    // Q5_0: value (q - 16) * d, q in 0..31; the signed extreme maps to -16 so the full range is used.
    private static void Q5_0(ReadOnlySpan<float> x, Span<byte> y)
    {
        float amax = 0, max = 0;
        foreach (var v in x)
        {
            if (MathF.Abs(v) > amax)
            {
                amax = MathF.Abs(v);
                max = v;
            }
        }
        var d = max / -16f;
        var id = d != 0 ? 1f / d : 0f;
        WriteHalf(y, d);
        uint qh = 0;
        var qs = y[6..];
        qs[..16].Clear();
        for (var j = 0; j < 32; j++)
        {
            var q = Math.Clamp((int)MathF.Round(x[j] * id) + 16, 0, 31);
            qs[j % 16] |= (byte)((q & 0xF) << (j < 16 ? 0 : 4));
            qh |= (uint)(q >> 4) << j;
        }
        BitConverter.TryWriteBytes(y[2..], qh);
    }

    // Q4_K: 8 sub-blocks of 32 with value d·sc·q − dmin·m, q in 0..15, sc and m 6-bit.
    private static void Q4_K(ReadOnlySpan<float> x, Span<byte> y)
    {
        Span<float> scales = stackalloc float[8];
        Span<float> mins = stackalloc float[8];
        for (var j = 0; j < 8; j++)
        {
            var sub = x.Slice(32 * j, 32);
            float lo = 0, hi = 0;
            foreach (var v in sub)
            {
                lo = MathF.Min(lo, v);
                hi = MathF.Max(hi, v);
            }
            scales[j] = (hi - lo) / 15f;
            mins[j] = -lo;
        }
        float maxScale = 0, maxMin = 0;
        for (var j = 0; j < 8; j++)
        {
            maxScale = MathF.Max(maxScale, scales[j]);
            maxMin = MathF.Max(maxMin, mins[j]);
        }
        var d = Half16.ToSingle(Half16.FromSingle(maxScale / 63f));
        var dmin = Half16.ToSingle(Half16.FromSingle(maxMin / 63f));
        WriteHalf(y, d);
        WriteHalf(y[2..], dmin);
        var packed = y.Slice(4, 12);
        packed.Clear();
        var qs = y.Slice(16, 128);
        qs.Clear();
        for (var j = 0; j < 8; j++)
        {
            var sc = d > 0 ? Math.Clamp((int)MathF.Round(scales[j] / d), 0, 63) : 0;
            var m = dmin > 0 ? Math.Clamp((int)MathF.Round(mins[j] / dmin), 0, 63) : 0;
            if (j < 4)
            {
                packed[j] |= (byte)sc;
                packed[j + 4] |= (byte)m;
            }
            else
            {
                packed[j + 4] = (byte)((sc & 0xF) | ((m & 0xF) << 4));
                packed[j - 4] |= (byte)((sc >> 4) << 6);
                packed[j] |= (byte)((m >> 4) << 6);
            }
            var step = d * sc;
            var offset = dmin * m;
            for (var l = 0; l < 32; l++)
            {
                var q = step > 0 ? Math.Clamp((int)MathF.Round((x[32 * j + l] + offset) / step), 0, 15) : 0;
                qs[32 * (j / 2) + l] |= (byte)(q << (4 * (j % 2)));
            }
        }
    }

    // Q6_K: 16 sub-blocks of 16 with int8 scales; value d·sc·(q − 32), q in 0..63.
    private static void Q6_K(ReadOnlySpan<float> x, Span<byte> y)
    {
        Span<float> scales = stackalloc float[16];
        float maxScale = 0;
        for (var j = 0; j < 16; j++)
        {
            float amax = 0;
            foreach (var v in x.Slice(16 * j, 16))
                amax = MathF.Max(amax, MathF.Abs(v));
            scales[j] = amax / 31f;
            maxScale = MathF.Max(maxScale, scales[j]);
        }
        var d = Half16.ToSingle(Half16.FromSingle(maxScale / 127f));
        var ql = y[..128];
        var qh = y.Slice(128, 64);
        ql.Clear();
        qh.Clear();
        for (var j = 0; j < 16; j++)
        {
            var sc = d > 0 ? Math.Clamp((int)MathF.Round(scales[j] / d), -128, 127) : 0;
            y[192 + j] = (byte)(sbyte)sc;
            var step = d * sc;
            for (var i = 0; i < 16; i++)
            {
                var e = 16 * j + i;
                var q = step != 0 ? Math.Clamp((int)MathF.Round(x[e] / step), -32, 31) + 32 : 32;
                var h = e / 128;
                var r = e % 128;
                var k = r / 32;
                var l = r % 32;
                ql[64 * h + l + 32 * (k & 1)] |= (byte)((q & 0xF) << (4 * (k >> 1)));
                qh[32 * h + l] |= (byte)((q >> 4) << (2 * k));
            }
        }
        WriteHalf(y[208..], d);
    }
}
