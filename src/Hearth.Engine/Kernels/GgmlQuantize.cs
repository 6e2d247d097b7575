using System.Buffers.Binary;
using Hearth.Gguf;

namespace Hearth.Engine.Kernels;

/// <summary>
/// float32 → ggml block quantizers, bit-identical to ggml's reference row quantizers without an importance matrix
/// (what <c>llama-quantize</c> runs: <c>ggml_quantize_chunk(type, ..., imatrix = NULL)</c>), including the scale
/// searches of the k-quants. Every step is plain float32 arithmetic in ggml's order (no fused multiply-add: ggml's
/// quantizers live in ggml-base, which is compiled for the baseline instruction set), rounding as ggml rounds
/// (<c>nearest_int</c> is round-half-to-even, <c>roundf</c> rounds halves away from zero, float → int truncates).
/// Blocks never span rows, so rows can be quantized independently and in any order. Lives in the engine (built
/// optimized even in Debug) because the k-quant scale searches are far too slow unoptimized; the factory drives it.
/// </summary>
internal static class GgmlQuantize
{
    private const int QK = 256;

    // ggml treats a group whose largest magnitude is below this as all zero.
    private const float GroupMaxEps = 1e-15f;

    /// <summary>Types <see cref="Quantize"/> can write.</summary>
    public static IReadOnlyList<GgmlType> SupportedTypes { get; } =
    [
        GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q8_0,
        GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K,
    ];

    /// <summary>Whether <paramref name="type"/> is one <see cref="Quantize"/> writes.</summary>
    public static bool IsSupported(GgmlType type) => SupportedTypes.Contains(type);

    /// <summary>
    /// Converts <paramref name="x"/> (whole blocks of <paramref name="type"/>) into <paramref name="dst"/>
    /// (exactly the bytes those blocks take).
    /// </summary>
    public static void Quantize(GgmlType type, ReadOnlySpan<float> x, Span<byte> dst)
    {
        var traits = GgmlTypeTraits.Get(type);
        if (!IsSupported(type))
            throw new NotSupportedException($"Quantizing to {traits.Name} is not supported; supported: {string.Join(", ", SupportedTypes.Select(t => GgmlTypeTraits.Get(t).Name))}.");
        if (x.Length % traits.BlockSize != 0)
            throw new ArgumentException($"{x.Length} values are not whole {traits.Name} blocks of {traits.BlockSize}.", nameof(x));
        if (dst.Length != traits.RowBytes(x.Length))
            throw new ArgumentException($"{x.Length} {traits.Name} values need {traits.RowBytes(x.Length)} bytes, got {dst.Length}.", nameof(dst));

        switch (type)
        {
            case GgmlType.F32:
                for (var i = 0; i < x.Length; i++)
                    BinaryPrimitives.WriteSingleLittleEndian(dst[(i * 4)..], x[i]);
                return;
            case GgmlType.F16:
                for (var i = 0; i < x.Length; i++)
                    BinaryPrimitives.WriteUInt16LittleEndian(dst[(i * 2)..], ToHalfBits(x[i]));
                return;
            case GgmlType.BF16:
                for (var i = 0; i < x.Length; i++)
                    BinaryPrimitives.WriteUInt16LittleEndian(dst[(i * 2)..], ToBFloat16Bits(x[i]));
                return;
        }

        var blocks = x.Length / traits.BlockSize;
        for (var b = 0; b < blocks; b++)
        {
            var xb = x.Slice(b * traits.BlockSize, traits.BlockSize);
            var yb = dst.Slice(b * traits.TypeSize, traits.TypeSize);
            switch (type)
            {
                case GgmlType.Q4_0: Q4_0(xb, yb); break;
                case GgmlType.Q4_1: Q4_1(xb, yb); break;
                case GgmlType.Q5_0: Q5_0(xb, yb); break;
                case GgmlType.Q5_1: Q5_1(xb, yb); break;
                case GgmlType.Q8_0: Q8_0(xb, yb); break;
                case GgmlType.Q2_K: Q2_K(xb, yb); break;
                case GgmlType.Q3_K: Q3_K(xb, yb); break;
                case GgmlType.Q4_K: Q4_K(xb, yb); break;
                case GgmlType.Q5_K: Q5_K(xb, yb); break;
                case GgmlType.Q6_K: Q6_K(xb, yb); break;
            }
        }
    }

    /// <summary>Index of the first NaN or infinity in <paramref name="x"/>, or -1 (quantized scales would be garbage).</summary>
    public static int IndexOfNonFinite(ReadOnlySpan<float> x)
    {
        for (var i = 0; i < x.Length; i++)
        {
            if (!float.IsFinite(x[i]))
                return i;
        }
        return -1;
    }

    /// <summary>float32 → IEEE half, round to nearest even (what ggml's conversion does).</summary>
    public static ushort ToHalfBits(float v) => BitConverter.HalfToUInt16Bits((Half)v);

    private static float FromHalfBits(ushort bits) => (float)BitConverter.UInt16BitsToHalf(bits);

    /// <summary>float32 → bfloat16 as ggml rounds it: to nearest even, NaN kept quiet.</summary>
    public static ushort ToBFloat16Bits(float v)
    {
        var u = BitConverter.SingleToUInt32Bits(v);
        if ((u & 0x7fffffff) > 0x7f800000)
            return (ushort)((u >> 16) | 64);
        return (ushort)((u + (0x7fff + ((u >> 16) & 1))) >> 16);
    }

    // ggml's nearest_int: adds 1.5·2^23 so the FPU rounds to an integer, half to even.
    private static int NearestInt(float v) => (int)MathF.Round(v, MidpointRounding.ToEven);

    private static void WriteHalf(Span<byte> y, int offset, float v) => BinaryPrimitives.WriteUInt16LittleEndian(y[offset..], ToHalfBits(v));

    private static float ReadHalf(ReadOnlySpan<byte> y, int offset) => FromHalfBits(BinaryPrimitives.ReadUInt16LittleEndian(y[offset..]));

    // The signed value of largest magnitude (the first one on ties) and that magnitude.
    private static (float Max, float AbsMax) SignedMax(ReadOnlySpan<float> x)
    {
        float amax = 0, max = 0;
        foreach (var v in x)
        {
            var a = MathF.Abs(v);
            if (amax < a)
            {
                amax = a;
                max = v;
            }
        }
        return (max, amax);
    }

    private static (float Min, float Max) MinMax(ReadOnlySpan<float> x)
    {
        var min = float.MaxValue;
        var max = -float.MaxValue;
        foreach (var v in x)
        {
            if (v < min)
                min = v;
            if (v > max)
                max = v;
        }
        return (min, max);
    }

    // ---- 32-element formats ----------------------------------------------------------------------------------

    // q4_0: value = (q - 8)·d, q in 0..15; d = max / -8 puts the signed extreme on q = 0. Layout: d, 16 nibble bytes
    // (element j in the low nibble of byte j, element j+16 in its high nibble).
    private static void Q4_0(ReadOnlySpan<float> x, Span<byte> y)
    {
        var (max, _) = SignedMax(x);
        var d = max / -8f;
        var id = d != 0 ? 1f / d : 0f;
        WriteHalf(y, 0, d);
        for (var j = 0; j < 16; j++)
        {
            var lo = Math.Min(15, (int)(x[j] * id + 8.5f));
            var hi = Math.Min(15, (int)(x[j + 16] * id + 8.5f));
            y[2 + j] = (byte)(lo | (hi << 4));
        }
    }

    // q4_1: value = q·d + m, m = block minimum, d = range / 15. Layout: d, m, 16 nibble bytes.
    private static void Q4_1(ReadOnlySpan<float> x, Span<byte> y)
    {
        var (min, max) = MinMax(x);
        var d = (max - min) / 15f;
        var id = d != 0 ? 1f / d : 0f;
        WriteHalf(y, 0, d);
        WriteHalf(y, 2, min);
        for (var j = 0; j < 16; j++)
        {
            var lo = Math.Min(15, (int)((x[j] - min) * id + 0.5f));
            var hi = Math.Min(15, (int)((x[j + 16] - min) * id + 0.5f));
            y[4 + j] = (byte)(lo | (hi << 4));
        }
    }

    // q5_0: value = (q - 16)·d, q in 0..31. Layout: d, 32 high bits (uint32), 16 nibble bytes.
    private static void Q5_0(ReadOnlySpan<float> x, Span<byte> y)
    {
        var (max, _) = SignedMax(x);
        var d = max / -16f;
        var id = d != 0 ? 1f / d : 0f;
        WriteHalf(y, 0, d);
        uint qh = 0;
        for (var j = 0; j < 16; j++)
        {
            var lo = Math.Min(31, (int)(x[j] * id + 16.5f));
            var hi = Math.Min(31, (int)(x[j + 16] * id + 16.5f));
            y[6 + j] = (byte)((lo & 0x0F) | ((hi & 0x0F) << 4));
            qh |= (uint)((lo >> 4) & 1) << j;
            qh |= (uint)((hi >> 4) & 1) << (j + 16);
        }
        BinaryPrimitives.WriteUInt32LittleEndian(y[2..], qh);
    }

    // q5_1: value = q·d + m, d = range / 31. Layout: d, m, 32 high bits, 16 nibble bytes. ggml does not clamp the
    // rounded value here; a byte cast keeps what it keeps.
    private static void Q5_1(ReadOnlySpan<float> x, Span<byte> y)
    {
        var (min, max) = MinMax(x);
        var d = (max - min) / 31f;
        var id = d != 0 ? 1f / d : 0f;
        WriteHalf(y, 0, d);
        WriteHalf(y, 2, min);
        uint qh = 0;
        for (var j = 0; j < 16; j++)
        {
            var lo = (byte)(int)((x[j] - min) * id + 0.5f);
            var hi = (byte)(int)((x[j + 16] - min) * id + 0.5f);
            y[8 + j] = (byte)((lo & 0x0F) | ((hi & 0x0F) << 4));
            qh |= (uint)((lo >> 4) & 1) << j;
            qh |= (uint)((hi >> 4) & 1) << (j + 16);
        }
        BinaryPrimitives.WriteUInt32LittleEndian(y[4..], qh);
    }

    // q8_0: value = q·d, d = amax / 127, q = roundf(x / d) (halves away from zero). Layout: d, 32 signed bytes.
    private static void Q8_0(ReadOnlySpan<float> x, Span<byte> y)
    {
        float amax = 0;
        foreach (var v in x)
            amax = MathF.Max(amax, MathF.Abs(v));
        var d = amax / 127f;
        var id = d != 0 ? 1f / d : 0f;
        WriteHalf(y, 0, d);
        for (var j = 0; j < 32; j++)
            y[2 + j] = (byte)(sbyte)MathF.Round(x[j] * id, MidpointRounding.AwayFromZero);
    }

    // ---- scale searches shared by the k-quants ---------------------------------------------------------------

    /// <summary>
    /// Symmetric levels -nmax..nmax-1 for a group (ggml's make_qx_quants with weights x²):
    /// tries 19 scales around nmax/max and keeps the one with the best weighted least-squares fit. Writes
    /// <c>level + nmax</c> into <paramref name="levels"/> and returns the scale.
    /// </summary>
    private static float SymmetricLevels(ReadOnlySpan<float> x, int nmax, Span<sbyte> levels)
    {
        var (max, amax) = SignedMax(x);
        if (amax < GroupMaxEps)
        {
            levels.Clear();
            return 0f;
        }
        var iscale = -nmax / max;
        float sumlx = 0, suml2 = 0;
        for (var i = 0; i < x.Length; i++)
        {
            var l = Math.Clamp(NearestInt(iscale * x[i]), -nmax, nmax - 1);
            levels[i] = (sbyte)(l + nmax);
            var w = x[i] * x[i];
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        var scale = suml2 != 0 ? sumlx / suml2 : 0f;
        var best = scale * sumlx;
        for (var step = -9; step <= 9; step++)
        {
            if (step == 0)
                continue;
            iscale = -(nmax + 0.1f * step) / max;
            sumlx = 0;
            suml2 = 0;
            for (var i = 0; i < x.Length; i++)
            {
                var l = Math.Clamp(NearestInt(iscale * x[i]), -nmax, nmax - 1);
                var w = x[i] * x[i];
                sumlx += w * x[i] * l;
                suml2 += w * l * l;
            }
            if (suml2 > 0 && sumlx * sumlx > best * suml2)
            {
                for (var i = 0; i < x.Length; i++)
                    levels[i] = (sbyte)(nmax + Math.Clamp(NearestInt(iscale * x[i]), -nmax, nmax - 1));
                scale = sumlx / suml2;
                best = scale * sumlx;
            }
        }
        return scale;
    }

    /// <summary>
    /// q3_K's group levels (ggml's make_q3_quants with rmse): start from the nmax/max grid, then up to five passes
    /// that move single elements to the level the rest of the group's fit asks for, keeping a move when it improves
    /// the weighted (x²) fit. Writes <c>level + nmax</c>; returns the scale.
    /// </summary>
    private static float Q3Levels(ReadOnlySpan<float> x, int nmax, Span<sbyte> levels)
    {
        var (max, amax) = SignedMax(x);
        if (amax < GroupMaxEps)
        {
            levels.Clear();
            return 0f;
        }
        var iscale = -nmax / max;
        float sumlx = 0, suml2 = 0;
        for (var i = 0; i < x.Length; i++)
        {
            var l = Math.Clamp(NearestInt(iscale * x[i]), -nmax, nmax - 1);
            levels[i] = (sbyte)l;
            var w = x[i] * x[i];
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        for (var pass = 0; pass < 5; pass++)
        {
            var changed = 0;
            for (var i = 0; i < x.Length; i++)
            {
                var w = x[i] * x[i];
                var slx = sumlx - w * x[i] * levels[i];
                if (slx > 0)
                {
                    var sl2 = suml2 - w * levels[i] * levels[i];
                    var nl = Math.Clamp(NearestInt(x[i] * sl2 / slx), -nmax, nmax - 1);
                    if (nl != levels[i])
                    {
                        slx += w * x[i] * nl;
                        sl2 += w * nl * nl;
                        if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2)
                        {
                            levels[i] = (sbyte)nl;
                            sumlx = slx;
                            suml2 = sl2;
                            changed++;
                        }
                    }
                }
            }
            if (changed == 0)
                break;
        }
        for (var i = 0; i < x.Length; i++)
            levels[i] = (sbyte)(levels[i] + nmax);
        return sumlx / suml2;
    }

    /// <summary>
    /// Asymmetric levels 0..nmax with a minimum (ggml's make_qkx2_quants): value ≈ scale·l − min. Starts from the
    /// min..max grid, then tries <paramref name="steps"/>+1 grids (nmax + rmin + rdelta·k) solving the weighted
    /// least-squares scale and minimum for each, keeping the lowest weighted error (absolute when
    /// <paramref name="useMad"/>, else squared). Returns the scale; <paramref name="theMin"/> gets the (positive) minimum.
    /// </summary>
    private static float AsymmetricLevels(ReadOnlySpan<float> x, int nmax, ReadOnlySpan<float> weights, Span<byte> levels,
        out float theMin, Span<byte> aux, float rmin, float rdelta, int steps, bool useMad)
    {
        var n = x.Length;
        var min = x[0];
        var max = x[0];
        var sumW = weights[0];
        var sumX = sumW * x[0];
        for (var i = 1; i < n; i++)
        {
            if (x[i] < min)
                min = x[i];
            if (x[i] > max)
                max = x[i];
            var w = weights[i];
            sumW += w;
            sumX += w * x[i];
        }
        if (min > 0)
            min = 0;
        if (max == min)
        {
            levels.Clear();
            theMin = -min;
            return 0f;
        }
        var iscale = nmax / (max - min);
        var scale = 1 / iscale;
        float bestError = 0;
        for (var i = 0; i < n; i++)
        {
            var l = Math.Clamp(NearestInt(iscale * (x[i] - min)), 0, nmax);
            levels[i] = (byte)l;
            var diff = scale * l + min - x[i];
            diff = useMad ? MathF.Abs(diff) : diff * diff;
            bestError += weights[i] * diff;
        }
        for (var step = 0; step <= steps; step++)
        {
            iscale = (rmin + rdelta * step + nmax) / (max - min);
            float sumL = 0, sumL2 = 0, sumXl = 0;
            for (var i = 0; i < n; i++)
            {
                var l = Math.Clamp(NearestInt(iscale * (x[i] - min)), 0, nmax);
                aux[i] = (byte)l;
                var w = weights[i];
                sumL += w * l;
                sumL2 += w * l * l;
                sumXl += w * l * x[i];
            }
            var det = sumW * sumL2 - sumL * sumL;
            if (det > 0)
            {
                var thisScale = (sumW * sumXl - sumX * sumL) / det;
                var thisMin = (sumL2 * sumX - sumL * sumXl) / det;
                if (thisMin > 0)
                {
                    thisMin = 0;
                    thisScale = sumXl / sumL2;
                }
                float error = 0;
                for (var i = 0; i < n; i++)
                {
                    var diff = thisScale * aux[i] + thisMin - x[i];
                    diff = useMad ? MathF.Abs(diff) : diff * diff;
                    error += weights[i] * diff;
                }
                if (error < bestError)
                {
                    aux[..n].CopyTo(levels);
                    bestError = error;
                    scale = thisScale;
                    min = thisMin;
                }
            }
        }
        theMin = -min;
        return scale;
    }

    // Packs q4_K / q5_K 6-bit scale j and min j into the 12-byte field (ggml's get_scale_min_k4 layout).
    private static void PackScaleMin(Span<byte> s, int j, byte ls, byte lm)
    {
        if (j < 4)
        {
            s[j] = ls;
            s[j + 4] = lm;
        }
        else
        {
            s[j + 4] = (byte)((ls & 0xF) | ((lm & 0xF) << 4));
            s[j - 4] |= (byte)((ls >> 4) << 6);
            s[j] |= (byte)((lm >> 4) << 6);
        }
    }

    private static (int Scale, int Min) UnpackScaleMin(ReadOnlySpan<byte> s, int j) => j < 4
        ? (s[j] & 63, s[j + 4] & 63)
        : ((s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4), (s[j + 4] >> 4) | ((s[j] >> 6) << 4));

    // ---- k-quants (super-blocks of 256) ----------------------------------------------------------------------

    // q2_K layout: scales[16] (low nibble scale, high nibble min), qs[64], d, dmin.
    private static void Q2_K(ReadOnlySpan<float> x, Span<byte> y)
    {
        Span<byte> levels = stackalloc byte[QK];
        Span<byte> aux = stackalloc byte[16];
        Span<float> weights = stackalloc float[16];
        Span<float> mins = stackalloc float[16];
        Span<float> scales = stackalloc float[16];
        const float Q4Scale = 15f;
        var sc = y[..16];
        var qs = y.Slice(16, 64);

        float maxScale = 0, maxMin = 0;
        for (var j = 0; j < 16; j++)
        {
            var xg = x.Slice(16 * j, 16);
            for (var l = 0; l < 16; l++)
                weights[l] = MathF.Abs(xg[l]);
            scales[j] = AsymmetricLevels(xg, 3, weights, levels.Slice(16 * j, 16), out mins[j], aux, -0.5f, 0.1f, 15, true);
            if (scales[j] > maxScale)
                maxScale = scales[j];
            if (mins[j] > maxMin)
                maxMin = mins[j];
        }

        if (maxScale > 0)
        {
            var iscale = Q4Scale / maxScale;
            for (var j = 0; j < 16; j++)
                sc[j] = (byte)NearestInt(iscale * scales[j]);
            WriteHalf(y, 80, maxScale / Q4Scale);
        }
        else
        {
            sc.Clear();
            WriteHalf(y, 80, 0f);
        }
        if (maxMin > 0)
        {
            var iscale = Q4Scale / maxMin;
            for (var j = 0; j < 16; j++)
                sc[j] |= (byte)(NearestInt(iscale * mins[j]) << 4);
            WriteHalf(y, 82, maxMin / Q4Scale);
        }
        else
        {
            WriteHalf(y, 82, 0f);
        }

        var dAll = ReadHalf(y, 80);
        var mAll = ReadHalf(y, 82);
        for (var j = 0; j < 16; j++)
        {
            var d = dAll * (sc[j] & 0xF);
            if (d == 0)
                continue;
            var dm = mAll * (sc[j] >> 4);
            for (var i = 0; i < 16; i++)
                levels[16 * j + i] = (byte)Math.Clamp(NearestInt((x[16 * j + i] + dm) / d), 0, 3);
        }
        PackTwoBit(levels, qs);
    }

    // Four 2-bit levels per byte: byte l of each 32-byte half holds elements l, l+32, l+64, l+96 of its 128.
    private static void PackTwoBit(ReadOnlySpan<byte> levels, Span<byte> qs)
    {
        for (var j = 0; j < QK; j += 128)
        {
            for (var l = 0; l < 32; l++)
                qs[j / 4 + l] = (byte)(levels[j + l] | (levels[j + l + 32] << 2) | (levels[j + l + 64] << 4) | (levels[j + l + 96] << 6));
        }
    }

    // q3_K layout: hmask[32], qs[64], scales[12] (16 six-bit scales: low nibbles in 0..7, high pairs in 8..11), d.
    private static void Q3_K(ReadOnlySpan<float> x, Span<byte> y)
    {
        Span<sbyte> levels = stackalloc sbyte[QK];
        Span<float> scales = stackalloc float[16];
        var hmask = y[..32];
        var qs = y.Slice(32, 64);
        var sc = y.Slice(96, 12);

        float maxScale = 0, amax = 0;
        for (var j = 0; j < 16; j++)
        {
            scales[j] = Q3Levels(x.Slice(16 * j, 16), 4, levels.Slice(16 * j, 16));
            var a = MathF.Abs(scales[j]);
            if (a > amax)
            {
                amax = a;
                maxScale = scales[j];
            }
        }

        sc.Clear();
        if (maxScale != 0)
        {
            var iscale = -32f / maxScale;
            for (var j = 0; j < 16; j++)
            {
                int l = (sbyte)NearestInt(iscale * scales[j]);
                l = Math.Clamp(l, -32, 31) + 32;
                if (j < 8)
                    sc[j] = (byte)(l & 0xF);
                else
                    sc[j - 8] |= (byte)((l & 0xF) << 4);
                l >>= 4;
                sc[j % 4 + 8] |= (byte)(l << (2 * (j / 4)));
            }
            WriteHalf(y, 108, 1 / iscale);
        }
        else
        {
            WriteHalf(y, 108, 0f);
        }

        var dAll = ReadHalf(y, 108);
        for (var j = 0; j < 16; j++)
        {
            var low = j < 8 ? sc[j] & 0xF : sc[j - 8] >> 4;
            var s = (low | (((sc[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32;
            var d = dAll * s;
            if (d == 0)
                continue;
            for (var i = 0; i < 16; i++)
                levels[16 * j + i] = (sbyte)(Math.Clamp(NearestInt(x[16 * j + i] / d), -4, 3) + 4);
        }

        // The high bit (level > 3) of element j goes to bit j / 32 of hmask[j % 32].
        hmask.Clear();
        Span<byte> low2 = stackalloc byte[QK];
        for (var j = 0; j < QK; j++)
        {
            var l = levels[j];
            if (l > 3)
            {
                hmask[j % 32] |= (byte)(1 << (j / 32));
                l -= 4;
            }
            low2[j] = (byte)l;
        }
        PackTwoBit(low2, qs);
    }

    // q4_K layout: d, dmin, scales[12] (eight 6-bit scales and mins), qs[128] (nibbles: 64-element chunks, element
    // l in the low nibble of byte l, element l+32 in the high nibble).
    private static void Q4_K(ReadOnlySpan<float> x, Span<byte> y)
    {
        Span<byte> levels = stackalloc byte[QK];
        QuantizeScaleMin8(x, y, levels, 15, -1f, 0.1f, 20);
        var qs = y.Slice(16, 128);
        for (var j = 0; j < QK; j += 64)
        {
            for (var l = 0; l < 32; l++)
                qs[j / 2 + l] = (byte)(levels[j + l] | (levels[j + l + 32] << 4));
        }
    }

    // q5_K layout: d, dmin, scales[12], qh[32] (bit pairs per 64-element chunk), qs[128] (low nibbles as q4_K).
    private static void Q5_K(ReadOnlySpan<float> x, Span<byte> y)
    {
        Span<byte> levels = stackalloc byte[QK];
        QuantizeScaleMin8(x, y, levels, 31, -0.5f, 0.1f, 15);
        var qh = y.Slice(16, 32);
        var ql = y.Slice(48, 128);
        qh.Clear();
        byte m1 = 1, m2 = 2;
        for (var n = 0; n < QK; n += 64)
        {
            for (var j = 0; j < 32; j++)
            {
                int l1 = levels[n + j];
                if (l1 > 15)
                {
                    l1 -= 16;
                    qh[j] |= m1;
                }
                int l2 = levels[n + j + 32];
                if (l2 > 15)
                {
                    l2 -= 16;
                    qh[j] |= m2;
                }
                ql[n / 2 + j] = (byte)(l1 | (l2 << 4));
            }
            m1 <<= 2;
            m2 <<= 2;
        }
    }

    /// <summary>
    /// The part q4_K and q5_K share: per 32-group asymmetric levels weighted by rms + |x|, the group scales and
    /// minimums quantized to 6 bits against the largest of each (d, dmin written at 0 and 2, scales at 4..15),
    /// then every element re-quantized with the stored scales. Leaves the final levels in <paramref name="levels"/>.
    /// </summary>
    private static void QuantizeScaleMin8(ReadOnlySpan<float> x, Span<byte> y, Span<byte> levels, int nmax, float rmin, float rdelta, int steps)
    {
        Span<byte> aux = stackalloc byte[32];
        Span<float> weights = stackalloc float[32];
        Span<float> mins = stackalloc float[8];
        Span<float> scales = stackalloc float[8];
        var sc = y.Slice(4, 12);

        float maxScale = 0, maxMin = 0;
        for (var j = 0; j < 8; j++)
        {
            var xg = x.Slice(32 * j, 32);
            float sumX2 = 0;
            for (var l = 0; l < 32; l++)
                sumX2 += xg[l] * xg[l];
            var avX = MathF.Sqrt(sumX2 / 32);
            for (var l = 0; l < 32; l++)
                weights[l] = avX + MathF.Abs(xg[l]);
            scales[j] = AsymmetricLevels(xg, nmax, weights, levels.Slice(32 * j, 32), out mins[j], aux, rmin, rdelta, steps, false);
            if (scales[j] > maxScale)
                maxScale = scales[j];
            if (mins[j] > maxMin)
                maxMin = mins[j];
        }

        var invScale = maxScale > 0 ? 63f / maxScale : 0f;
        var invMin = maxMin > 0 ? 63f / maxMin : 0f;
        sc.Clear();
        for (var j = 0; j < 8; j++)
        {
            // ggml stores the rounded value in a uint8_t before clamping, so a negative one wraps (and clamps to 63).
            var ls = Math.Min((byte)63, (byte)NearestInt(invScale * scales[j]));
            var lm = Math.Min((byte)63, (byte)NearestInt(invMin * mins[j]));
            PackScaleMin(sc, j, ls, lm);
        }
        WriteHalf(y, 0, maxScale / 63f);
        WriteHalf(y, 2, maxMin / 63f);

        var dAll = ReadHalf(y, 0);
        var mAll = ReadHalf(y, 2);
        for (var j = 0; j < 8; j++)
        {
            var (s, m) = UnpackScaleMin(sc, j);
            var d = dAll * s;
            if (d == 0)
                continue;
            var dm = mAll * m;
            for (var i = 0; i < 32; i++)
                levels[32 * j + i] = (byte)Math.Clamp(NearestInt((x[32 * j + i] + dm) / d), 0, nmax);
        }
    }

    // q6_K layout: ql[128] (low nibbles), qh[64] (2-bit highs), scales[16] (int8), d.
    private static void Q6_K(ReadOnlySpan<float> x, Span<byte> y)
    {
        Span<sbyte> levels = stackalloc sbyte[QK];
        Span<float> scales = stackalloc float[16];
        float maxScale = 0, maxAbsScale = 0;
        for (var ib = 0; ib < 16; ib++)
        {
            var s = SymmetricLevels(x.Slice(16 * ib, 16), 32, levels.Slice(16 * ib, 16));
            scales[ib] = s;
            var a = MathF.Abs(s);
            if (a > maxAbsScale)
            {
                maxAbsScale = a;
                maxScale = s;
            }
        }

        if (maxAbsScale < GroupMaxEps)
        {
            y.Clear();
            return;
        }

        var iscale = -128f / maxScale;
        WriteHalf(y, 208, 1 / iscale);
        var sc = y.Slice(192, 16);
        for (var ib = 0; ib < 16; ib++)
            sc[ib] = (byte)(sbyte)Math.Min(127, NearestInt(iscale * scales[ib]));

        var dAll = ReadHalf(y, 208);
        for (var j = 0; j < 16; j++)
        {
            var d = dAll * (sbyte)sc[j];
            if (d == 0)
                continue;
            for (var i = 0; i < 16; i++)
                levels[16 * j + i] = (sbyte)(Math.Clamp(NearestInt(x[16 * j + i] / d), -32, 31) + 32);
        }

        var ql = y[..128];
        var qh = y.Slice(128, 64);
        for (var j = 0; j < QK; j += 128)
        {
            var qlo = ql.Slice(j / 2, 64);
            var qhi = qh.Slice(j / 4, 32);
            for (var l = 0; l < 32; l++)
            {
                int a = levels[j + l], b = levels[j + l + 32], c = levels[j + l + 64], e = levels[j + l + 96];
                qlo[l] = (byte)((a & 0xF) | ((c & 0xF) << 4));
                qlo[l + 32] = (byte)((b & 0xF) | ((e & 0xF) << 4));
                qhi[l] = (byte)((a >> 4) | ((b >> 4) << 2) | ((c >> 4) << 4) | ((e >> 4) << 6));
            }
        }
    }
}
