namespace Hearth.Engine.Kernels;

/// <summary>
/// Scalar reference dot products of one weight row (ggml block format) with one activation row
/// (its vec-dot type, <see cref="ActivationQuantizer"/>). Integer sums inside a block, float
/// accumulation across blocks, in the order ggml's generic kernels use. The SIMD kernels in
/// <see cref="DotAvx2"/> are tested against these.
/// </summary>
internal static unsafe class DotReference
{
    public static float F32(byte* w, byte* a, int n)
    {
        var x = (float*)w;
        var y = (float*)a;
        double sum = 0;
        for (var i = 0; i < n; i++)
            sum += x[i] * y[i];
        return (float)sum;
    }

    public static float F16(byte* w, byte* a, int n)
    {
        var x = (ushort*)w;
        var y = (ushort*)a;
        double sum = 0;
        for (var i = 0; i < n; i++)
            sum += Half16.ToSingle(x[i]) * Half16.ToSingle(y[i]);
        return (float)sum;
    }

    public static float BF16(byte* w, byte* a, int n)
    {
        var x = (ushort*)w;
        var y = (ushort*)a;
        double sum = 0;
        for (var i = 0; i < n; i++)
            sum += Half16.BFloat16ToSingle(x[i]) * Half16.BFloat16ToSingle(y[i]);
        return (float)sum;
    }

    // Q4_0 (18 bytes): d, 16 bytes nibbles (low = elements 0..15, high = 16..31), value q - 8.
    public static float Q4_0(byte* w, byte* a, int n)
    {
        float sum = 0;
        for (var b = 0; b < n / 32; b++, w += 18, a += 34)
        {
            var qs = w + 2;
            var y = (sbyte*)(a + 2);
            var sumi = 0;
            for (var j = 0; j < 16; j++)
                sumi += ((qs[j] & 0xF) - 8) * y[j] + ((qs[j] >> 4) - 8) * y[j + 16];
            sum += sumi * (Half16.Load(w) * Half16.Load(a));
        }
        return sum;
    }

    // Q4_1 (20 bytes): d, m, nibbles; value q * d + m. Against q8_1: d*da*sum(q*a) + m*s.
    public static float Q4_1(byte* w, byte* a, int n)
    {
        float sum = 0;
        for (var b = 0; b < n / 32; b++, w += 20, a += 36)
        {
            var qs = w + 4;
            var y = (sbyte*)(a + 4);
            var sumi = 0;
            for (var j = 0; j < 16; j++)
                sumi += (qs[j] & 0xF) * y[j] + (qs[j] >> 4) * y[j + 16];
            sum += sumi * (Half16.Load(w) * Half16.Load(a)) + Half16.Load(w + 2) * Half16.Load(a + 2);
        }
        return sum;
    }

    // Q5_0 (22 bytes): d, qh (u32, bit j = fifth bit of element j), nibbles; value q - 16.
    public static float Q5_0(byte* w, byte* a, int n)
    {
        float sum = 0;
        for (var b = 0; b < n / 32; b++, w += 22, a += 34)
        {
            var qh = *(uint*)(w + 2);
            var qs = w + 6;
            var y = (sbyte*)(a + 2);
            var sumi = 0;
            for (var j = 0; j < 16; j++)
            {
                var v0 = ((qs[j] & 0xF) | (int)(((qh >> j) & 1) << 4)) - 16;
                var v1 = ((qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4)) - 16;
                sumi += v0 * y[j] + v1 * y[j + 16];
            }
            sum += sumi * (Half16.Load(w) * Half16.Load(a));
        }
        return sum;
    }

    // Q5_1 (24 bytes): d, m, qh, nibbles; value q * d + m.
    public static float Q5_1(byte* w, byte* a, int n)
    {
        float sum = 0;
        for (var b = 0; b < n / 32; b++, w += 24, a += 36)
        {
            var qh = *(uint*)(w + 4);
            var qs = w + 8;
            var y = (sbyte*)(a + 4);
            var sumi = 0;
            for (var j = 0; j < 16; j++)
            {
                var v0 = (qs[j] & 0xF) | (int)(((qh >> j) & 1) << 4);
                var v1 = (qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4);
                sumi += v0 * y[j] + v1 * y[j + 16];
            }
            sum += sumi * (Half16.Load(w) * Half16.Load(a)) + Half16.Load(w + 2) * Half16.Load(a + 2);
        }
        return sum;
    }

    // Q8_0 (34 bytes): d, 32 int8.
    public static float Q8_0(byte* w, byte* a, int n)
    {
        float sum = 0;
        for (var b = 0; b < n / 32; b++, w += 34, a += 34)
        {
            var x = (sbyte*)(w + 2);
            var y = (sbyte*)(a + 2);
            var sumi = 0;
            for (var j = 0; j < 32; j++)
                sumi += x[j] * y[j];
            sum += sumi * (Half16.Load(w) * Half16.Load(a));
        }
        return sum;
    }

    // IQ4_NL (18 bytes): d, nibbles indexing the non-linear code book.
    public static float IQ4_NL(byte* w, byte* a, int n)
    {
        var levels = Iq4Levels;
        float sum = 0;
        for (var b = 0; b < n / 32; b++, w += 18, a += 34)
        {
            var qs = w + 2;
            var y = (sbyte*)(a + 2);
            var sumi = 0;
            for (var j = 0; j < 16; j++)
                sumi += levels[qs[j] & 0xF] * y[j] + levels[qs[j] >> 4] * y[j + 16];
            sum += sumi * (Half16.Load(w) * Half16.Load(a));
        }
        return sum;
    }

    public static ReadOnlySpan<sbyte> Iq4Levels => [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];

    // Q2_K (84 bytes): scales[16] (low nibble scale, high nibble min), qs[64] (2 bits), d, dmin.
    // Element e belongs to sub-block e/16; its 2 bits are in qs[32*(e/128) + e%32] at shift 2*((e%128)/32).
    public static float Q2_K(byte* w, byte* a, int n)
    {
        float sum = 0;
        for (var b = 0; b < n / 256; b++, w += 84, a += ActivationQuantizer.Q8_KBlockBytes)
        {
            var scales = w;
            var qs = w + 16;
            var y = (sbyte*)(a + 4);
            var bsums = (short*)(a + 260);
            var summs = 0;
            for (var j = 0; j < 16; j++)
                summs += bsums[j] * (scales[j] >> 4);
            var isum = 0;
            for (var e0 = 0; e0 < 256; e0 += 16)
            {
                var s = 0;
                for (var e = e0; e < e0 + 16; e++)
                {
                    var q = (qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
                    s += q * y[e];
                }
                isum += (scales[e0 / 16] & 0xF) * s;
            }
            var da = *(float*)a;
            sum += da * Half16.Load(w + 80) * isum - da * Half16.Load(w + 82) * summs;
        }
        return sum;
    }

    // Q3_K (110 bytes): hmask[32], qs[64], scales[12] (16 six-bit scales, offset 32), d.
    // Value = (2 low bits) - (high bit clear ? 4 : 0); element e: qs as Q2_K, hmask[e%32] bit e/32.
    public static float Q3_K(byte* w, byte* a, int n)
    {
        Span<int> sc = stackalloc int[16];
        float sum = 0;
        for (var b = 0; b < n / 256; b++, w += 110, a += ActivationQuantizer.Q8_KBlockBytes)
        {
            var hm = w;
            var qs = w + 32;
            Q3KScales(w + 96, sc);
            var y = (sbyte*)(a + 4);
            var isum = 0;
            for (var e0 = 0; e0 < 256; e0 += 16)
            {
                var s = 0;
                for (var e = e0; e < e0 + 16; e++)
                {
                    var q = (qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
                    if ((hm[e % 32] & (1 << (e / 32))) == 0)
                        q -= 4;
                    s += q * y[e];
                }
                isum += sc[e0 / 16] * s;
            }
            sum += Half16.Load(w + 108) * *(float*)a * isum;
        }
        return sum;
    }

    /// <summary>Unpacks Q3_K's 16 six-bit scales (minus 32).</summary>
    public static void Q3KScales(byte* s, Span<int> sc)
    {
        for (var j = 0; j < 16; j++)
        {
            var low = j < 8 ? (s[j] & 0xF) : (s[j - 8] >> 4);
            var high = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
            sc[j] = (low | (high << 4)) - 32;
        }
    }

    /// <summary>Q4_K / Q5_K six-bit scale and min of sub-block <paramref name="j"/> (0..7).</summary>
    public static void ScaleMinK4(int j, byte* q, out int sc, out int m)
    {
        if (j < 4)
        {
            sc = q[j] & 63;
            m = q[j + 4] & 63;
        }
        else
        {
            sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
            m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
        }
    }

    // Q4_K (144 bytes): d, dmin, scales[12], qs[128]. 64-element chunk c: qs[32c..32c+32] low nibbles are
    // sub-block 2c, high nibbles 2c+1. Value = d*sc*q - dmin*m.
    public static float Q4_K(byte* w, byte* a, int n)
    {
        float sum = 0;
        for (var b = 0; b < n / 256; b++, w += 144, a += ActivationQuantizer.Q8_KBlockBytes)
        {
            var qs = w + 16;
            var y = (sbyte*)(a + 4);
            var bsums = (short*)(a + 260);
            int isum = 0, summ = 0;
            for (var sb = 0; sb < 8; sb++)
            {
                ScaleMinK4(sb, w + 4, out var sc, out var m);
                var chunk = qs + 32 * (sb / 2);
                var shift = 4 * (sb % 2);
                var s = 0;
                for (var l = 0; l < 32; l++)
                    s += ((chunk[l] >> shift) & 0xF) * y[sb * 32 + l];
                isum += sc * s;
                summ += m * (bsums[2 * sb] + bsums[2 * sb + 1]);
            }
            var da = *(float*)a;
            sum += da * Half16.Load(w) * isum - da * Half16.Load(w + 2) * summ;
        }
        return sum;
    }

    // Q5_K (176 bytes): d, dmin, scales[12], qh[32], qs[128]; fifth bit of sub-block sb element l is qh[l] bit sb.
    public static float Q5_K(byte* w, byte* a, int n)
    {
        float sum = 0;
        for (var b = 0; b < n / 256; b++, w += 176, a += ActivationQuantizer.Q8_KBlockBytes)
        {
            var qh = w + 16;
            var qs = w + 48;
            var y = (sbyte*)(a + 4);
            var bsums = (short*)(a + 260);
            int isum = 0, summ = 0;
            for (var sb = 0; sb < 8; sb++)
            {
                ScaleMinK4(sb, w + 4, out var sc, out var m);
                var chunk = qs + 32 * (sb / 2);
                var shift = 4 * (sb % 2);
                var s = 0;
                for (var l = 0; l < 32; l++)
                {
                    var q = ((chunk[l] >> shift) & 0xF) | (((qh[l] >> sb) & 1) << 4);
                    s += q * y[sb * 32 + l];
                }
                isum += sc * s;
                summ += m * (bsums[2 * sb] + bsums[2 * sb + 1]);
            }
            var da = *(float*)a;
            sum += da * Half16.Load(w) * isum - da * Half16.Load(w + 2) * summ;
        }
        return sum;
    }

    // Q6_K (210 bytes): ql[128], qh[64], scales[16] (int8), d. Half h (128 elements): l in 0..31,
    // element 128h + l + 32k takes ql[64h + l + 32(k&1)] nibble (k>>1) and qh[32h + l] bits 2k..2k+1; value q - 32.
    // The block's integer dot is scaled once by d_w·d_a, as llama.cpp's q6_K kernels do.
    public static float Q6_K(byte* w, byte* a, int n)
    {
        float sum = 0;
        for (var b = 0; b < n / 256; b++, w += 210, a += ActivationQuantizer.Q8_KBlockBytes)
        {
            var ql = w;
            var qh = w + 128;
            var scales = (sbyte*)(w + 192);
            var y = (sbyte*)(a + 4);
            var dw = Half16.Load(w + 208);
            var da = *(float*)a;
            var isum = 0;
            for (var k = 0; k < 16; k++)
            {
                var baseL = (k / 8) * 128 + (k % 8) * 8;
                var sl = 0;
                var sh = 0;
                for (var e = baseL; e < baseL + 8; e++)
                {
                    sl += Q6(ql, qh, e) * y[e];
                    sh += Q6(ql, qh, e + 64) * y[e + 64];
                }
                isum += sl * scales[baseL / 16] + sh * scales[(baseL + 64) / 16];
            }
            sum += isum * (dw * da);
        }
        return sum;
    }

    private static int Q6(byte* ql, byte* qh, int e)
    {
        var h = e / 128;
        var r = e % 128;
        var k = r / 32;
        var l = r % 32;
        var low = (ql[64 * h + l + 32 * (k & 1)] >> (4 * (k >> 1))) & 0xF;
        var high = (qh[32 * h + l] >> (2 * k)) & 3;
        return (low | (high << 4)) - 32;
    }

    // IQ4_XS (136 bytes): d, scales_h (u16), scales_l[4], qs[128]; 8 sub-blocks of 32 with 6-bit scales (minus 32).
    public static float IQ4_XS(byte* w, byte* a, int n)
    {
        var levels = Iq4Levels;
        float sum = 0;
        for (var b = 0; b < n / 256; b++, w += 136, a += ActivationQuantizer.Q8_KBlockBytes)
        {
            var sh = *(ushort*)(w + 2);
            var sl = w + 4;
            var qs = w + 8;
            var y = (sbyte*)(a + 4);
            var isum = 0;
            for (var ib = 0; ib < 8; ib++)
            {
                var ls = ((sl[ib / 2] >> (4 * (ib % 2))) & 0xF) | (((sh >> (2 * ib)) & 3) << 4);
                var q = qs + 16 * ib;
                var s = 0;
                for (var j = 0; j < 16; j++)
                    s += levels[q[j] & 0xF] * y[32 * ib + j] + levels[q[j] >> 4] * y[32 * ib + j + 16];
                isum += (ls - 32) * s;
            }
            sum += Half16.Load(w) * *(float*)a * isum;
        }
        return sum;
    }
}
