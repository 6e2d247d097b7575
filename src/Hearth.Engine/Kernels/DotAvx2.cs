using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Hearth.Engine.Kernels;

/// <summary>
/// x86 SIMD dot products (AVX2, with AVX-VNNI's <c>vpdpbusd</c>/<c>vpdpwssd</c> where present; F32 also
/// AVX-512). Same block formats and integer sums as <see cref="DotReference"/>; only the float
/// accumulation order differs. Used only when <see cref="IsSupported"/>.
/// </summary>
internal static unsafe class DotAvx2
{
    /// <summary>Whether the CPU has what these kernels need (AVX2 + FMA).</summary>
    public static bool IsSupported => Avx2.IsSupported && Fma.IsSupported;

    private static readonly bool Vnni = AvxVnni.IsSupported;

    /// <summary>Signed 8-bit dot in 32-bit lanes: |x| (unsigned) times y with x's sign — the trick that lets
    /// the unsigned×signed multiply instructions take two signed operands.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> DotS8(Vector256<sbyte> x, Vector256<sbyte> y) =>
        DotU8S8(Avx2.Abs(x), Avx2.Sign(y, x));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> DotU8S8(Vector256<byte> u, Vector256<sbyte> s)
    {
        if (Vnni)
            return AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, u, s);
        return Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, s), Vector256.Create((short)1));
    }

    /// <summary>acc + pairwise sums of p times scale (vpdpwssd or pmaddwd + add).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> MulAddPairs(Vector256<int> acc, Vector256<short> p, Vector256<short> scale)
    {
        if (Vnni)
            return AvxVnni.MultiplyWideningAndAdd(acc, p, scale);
        return Avx2.Add(acc, Avx2.MultiplyAddAdjacent(p, scale));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Nibbles(byte* qs16)
    {
        var raw = Vector128.Load(qs16);
        var mask = Vector128.Create((byte)0x0F);
        return Vector256.Create(raw & mask, (raw.AsUInt16() >> 4).AsByte() & mask);
    }

    /// <summary>Byte i = 0xFF where bit i of <paramref name="bits"/> is set.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> BitsToBytes(uint bits)
    {
        var v = Vector256.Create(bits).AsByte();
        var spread = Avx2.Shuffle(v, Vector256.Create(
            (byte)0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
            2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
        var bit = Vector256.Create(0x8040201008040201UL).AsByte();
        return Vector256.Equals(spread & bit, bit);
    }

    public static float F32(byte* w, byte* a, int n)
    {
        var x = (float*)w;
        var y = (float*)a;
        var i = 0;
        float sum;
        if (Vector512.IsHardwareAccelerated && n >= 32)
        {
            Vector512<float> s0 = default, s1 = default;
            for (; i + 32 <= n; i += 32)
            {
                s0 = Avx512F.FusedMultiplyAdd(Vector512.Load(x + i), Vector512.Load(y + i), s0);
                s1 = Avx512F.FusedMultiplyAdd(Vector512.Load(x + i + 16), Vector512.Load(y + i + 16), s1);
            }
            sum = Vector512.Sum(s0 + s1);
        }
        else
        {
            Vector256<float> s0 = default, s1 = default;
            for (; i + 16 <= n; i += 16)
            {
                s0 = Fma.MultiplyAdd(Vector256.Load(x + i), Vector256.Load(y + i), s0);
                s1 = Fma.MultiplyAdd(Vector256.Load(x + i + 8), Vector256.Load(y + i + 8), s1);
            }
            sum = Vector256.Sum(s0 + s1);
        }
        for (; i < n; i++)
            sum += x[i] * y[i];
        return sum;
    }

    public static float Q8_0(byte* w, byte* a, int n)
    {
        var acc = Vector256<float>.Zero;
        for (var b = 0; b < n / 32; b++, w += 34, a += 34)
        {
            var p = DotS8(Vector256.Load((sbyte*)(w + 2)), Vector256.Load((sbyte*)(a + 2)));
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(p), Vector256.Create(Half16.Load(w) * Half16.Load(a)), acc);
        }
        return Vector256.Sum(acc);
    }

    public static float Q4_0(byte* w, byte* a, int n)
    {
        var acc = Vector256<float>.Zero;
        var eight = Vector256.Create((sbyte)8);
        for (var b = 0; b < n / 32; b++, w += 18, a += 34)
        {
            var q = Nibbles(w + 2).AsSByte() - eight;
            var p = DotS8(q, Vector256.Load((sbyte*)(a + 2)));
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(p), Vector256.Create(Half16.Load(w) * Half16.Load(a)), acc);
        }
        return Vector256.Sum(acc);
    }

    public static float Q4_1(byte* w, byte* a, int n)
    {
        var acc = Vector256<float>.Zero;
        float mins = 0;
        for (var b = 0; b < n / 32; b++, w += 20, a += 36)
        {
            var p = DotU8S8(Nibbles(w + 4), Vector256.Load((sbyte*)(a + 4)));
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(p), Vector256.Create(Half16.Load(w) * Half16.Load(a)), acc);
            mins += Half16.Load(w + 2) * Half16.Load(a + 2);
        }
        return Vector256.Sum(acc) + mins;
    }

    public static float Q5_0(byte* w, byte* a, int n)
    {
        var acc = Vector256<float>.Zero;
        var sixteen = Vector256.Create((byte)16);
        for (var b = 0; b < n / 32; b++, w += 22, a += 34)
        {
            var q = (Nibbles(w + 6) | (BitsToBytes(*(uint*)(w + 2)) & sixteen)).AsSByte() - sixteen.AsSByte();
            var p = DotS8(q, Vector256.Load((sbyte*)(a + 2)));
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(p), Vector256.Create(Half16.Load(w) * Half16.Load(a)), acc);
        }
        return Vector256.Sum(acc);
    }

    public static float Q5_1(byte* w, byte* a, int n)
    {
        var acc = Vector256<float>.Zero;
        var sixteen = Vector256.Create((byte)16);
        float mins = 0;
        for (var b = 0; b < n / 32; b++, w += 24, a += 36)
        {
            var q = Nibbles(w + 8) | (BitsToBytes(*(uint*)(w + 4)) & sixteen);
            var p = DotU8S8(q, Vector256.Load((sbyte*)(a + 4)));
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(p), Vector256.Create(Half16.Load(w) * Half16.Load(a)), acc);
            mins += Half16.Load(w + 2) * Half16.Load(a + 2);
        }
        return Vector256.Sum(acc) + mins;
    }

    public static float IQ4_NL(byte* w, byte* a, int n)
    {
        var acc = Vector256<float>.Zero;
        var table = Vector256.Create(Vector128.Create(DotReference.Iq4Levels).AsByte());
        for (var b = 0; b < n / 32; b++, w += 18, a += 34)
        {
            var q = Avx2.Shuffle(table, Nibbles(w + 2)).AsSByte();
            var p = DotS8(q, Vector256.Load((sbyte*)(a + 2)));
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(p), Vector256.Create(Half16.Load(w) * Half16.Load(a)), acc);
        }
        return Vector256.Sum(acc);
    }

    public static float Q4_K(byte* w, byte* a, int n)
    {
        var acc = Vector256<float>.Zero;
        var mask = Vector256.Create((byte)0x0F);
        float mins = 0;
        for (var b = 0; b < n / 256; b++, w += 144, a += ActivationQuantizer.Q8_KBlockBytes)
        {
            var qs = w + 16;
            var y = (sbyte*)(a + 4);
            var bsums = (short*)(a + 260);
            var sumi = Vector256<int>.Zero;
            var summ = 0;
            for (var c = 0; c < 4; c++)
            {
                DotReference.ScaleMinK4(2 * c, w + 4, out var sc0, out var m0);
                DotReference.ScaleMinK4(2 * c + 1, w + 4, out var sc1, out var m1);
                summ += m0 * (bsums[4 * c] + bsums[4 * c + 1]) + m1 * (bsums[4 * c + 2] + bsums[4 * c + 3]);
                var raw = Vector256.Load(qs + 32 * c);
                var lo = raw & mask;
                var hi = (raw.AsUInt16() >> 4).AsByte() & mask;
                sumi = MulAddPairs(sumi, Avx2.MultiplyAddAdjacent(lo, Vector256.Load(y + 64 * c)), Vector256.Create((short)sc0));
                sumi = MulAddPairs(sumi, Avx2.MultiplyAddAdjacent(hi, Vector256.Load(y + 64 * c + 32)), Vector256.Create((short)sc1));
            }
            var da = *(float*)a;
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sumi), Vector256.Create(da * Half16.Load(w)), acc);
            mins += da * Half16.Load(w + 2) * summ;
        }
        return Vector256.Sum(acc) - mins;
    }

    public static float Q5_K(byte* w, byte* a, int n)
    {
        var acc = Vector256<float>.Zero;
        var mask = Vector256.Create((byte)0x0F);
        var sixteen = Vector256.Create((byte)16);
        float mins = 0;
        for (var b = 0; b < n / 256; b++, w += 176, a += ActivationQuantizer.Q8_KBlockBytes)
        {
            var qhv = Vector256.Load(w + 16);
            var qs = w + 48;
            var y = (sbyte*)(a + 4);
            var bsums = (short*)(a + 260);
            var sumi = Vector256<int>.Zero;
            var summ = 0;
            for (var c = 0; c < 4; c++)
            {
                DotReference.ScaleMinK4(2 * c, w + 4, out var sc0, out var m0);
                DotReference.ScaleMinK4(2 * c + 1, w + 4, out var sc1, out var m1);
                summ += m0 * (bsums[4 * c] + bsums[4 * c + 1]) + m1 * (bsums[4 * c + 2] + bsums[4 * c + 3]);
                var raw = Vector256.Load(qs + 32 * c);
                var b0 = Vector256.Create((byte)(1 << (2 * c)));
                var b1 = Vector256.Create((byte)(2 << (2 * c)));
                var lo = (raw & mask) | (Vector256.Equals(qhv & b0, b0) & sixteen);
                var hi = ((raw.AsUInt16() >> 4).AsByte() & mask) | (Vector256.Equals(qhv & b1, b1) & sixteen);
                sumi = MulAddPairs(sumi, Avx2.MultiplyAddAdjacent(lo, Vector256.Load(y + 64 * c)), Vector256.Create((short)sc0));
                sumi = MulAddPairs(sumi, Avx2.MultiplyAddAdjacent(hi, Vector256.Load(y + 64 * c + 32)), Vector256.Create((short)sc1));
            }
            var da = *(float*)a;
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sumi), Vector256.Create(da * Half16.Load(w)), acc);
            mins += da * Half16.Load(w + 2) * summ;
        }
        return Vector256.Sum(acc) - mins;
    }

    public static float Q6_K(byte* w, byte* a, int n)
    {
        // Like ggml: the -32 offset is taken off in the 16-bit pair sums (maddubs(q, y) - maddubs(32, y)), so the
        // block's dot is an exact integer, scaled once by d_w·d_a (llama.cpp's repacked q6_K kernels round the same
        // way); subtracting a float correction afterwards differs by ulps that the next layer's rounding amplifies.
        float sum = 0;
        var m4 = Vector256.Create((byte)0x0F);
        var m30 = Vector256.Create((byte)0x30);
        var m32 = Vector256.Create((byte)32);
        for (var b = 0; b < n / 256; b++, w += 210, a += ActivationQuantizer.Q8_KBlockBytes)
        {
            var sc = (sbyte*)(w + 192);
            var y = (sbyte*)(a + 4);
            var sumi = Vector256<int>.Zero;
            for (var h = 0; h < 2; h++)
            {
                var ql0 = Vector256.Load(w + 64 * h);
                var ql1 = Vector256.Load(w + 64 * h + 32);
                var qh = Vector256.Load(w + 128 + 32 * h);
                var q0 = (ql0 & m4) | ((qh.AsUInt16() << 4).AsByte() & m30);
                var q1 = (ql1 & m4) | ((qh.AsUInt16() << 2).AsByte() & m30);
                var q2 = ((ql0.AsUInt16() >> 4).AsByte() & m4) | (qh & m30);
                var q3 = ((ql1.AsUInt16() >> 4).AsByte() & m4) | ((qh.AsUInt16() >> 2).AsByte() & m30);
                var ys = y + 128 * h;
                var s = sc + 8 * h;
                sumi = MulAddPairs(sumi, Offset32(q0, Vector256.Load(ys), m32), Scales2(s[0], s[1]));
                sumi = MulAddPairs(sumi, Offset32(q1, Vector256.Load(ys + 32), m32), Scales2(s[2], s[3]));
                sumi = MulAddPairs(sumi, Offset32(q2, Vector256.Load(ys + 64), m32), Scales2(s[4], s[5]));
                sumi = MulAddPairs(sumi, Offset32(q3, Vector256.Load(ys + 96), m32), Scales2(s[6], s[7]));
            }
            sum += Vector256.Sum(sumi) * (Half16.Load(w + 208) * *(float*)a);
        }
        return sum;
    }

    /// <summary>Pair sums of (q − 32)·y for unsigned 6-bit q and signed y, in 16 bits (|result| ≤ 2·32·128).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> Offset32(Vector256<byte> q, Vector256<sbyte> y, Vector256<byte> m32) =>
        Avx2.Subtract(Avx2.MultiplyAddAdjacent(q, y), Avx2.MultiplyAddAdjacent(m32, y));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> Scales2(sbyte lo, sbyte hi) =>
        Vector256.Create(Vector128.Create((short)lo), Vector128.Create((short)hi));
}
