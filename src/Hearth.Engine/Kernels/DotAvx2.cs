using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Hearth.Engine.Kernels;

/// <summary>
/// x86 SIMD dot products (AVX2, with AVX-VNNI's <c>vpdpbusd</c> where present; F32 also
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
        // One accumulator, blocks in order, as ggml: splitting the sum (even/odd blocks) was 10 % faster in cache but
        // moved results by ulps that the following layers amplify past the 1e-3 parity tolerance.
        var acc = Vector256<float>.Zero;
        for (var b = 0; b < n / 32; b++, w += 34, a += 34)
        {
            var p = DotS8(Vector256.Load((sbyte*)(w + 2)), Vector256.Load((sbyte*)(a + 2)));
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(p), Vector256.Create(Half16.Load(w) * Half16.Load(a)), acc);
        }
        return Vector256.Sum(acc);
    }

    // Four-token kernels for prompt batches: one weight row against four activation rows `stride` bytes apart, so the
    // weight block is loaded and decoded (nibbles, scales) once for four tokens. Each token's arithmetic is the
    // single-token kernel's, in the same order, so the results are bit-identical to four single-token calls.

    public static void Q8_0x4(byte* w, byte* a, nint stride, int n, float* result)
    {
        Vector256<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        byte* a0 = a, a1 = a + stride, a2 = a + 2 * stride, a3 = a + 3 * stride;
        for (var b = 0; b < n / 32; b++, w += 34, a0 += 34, a1 += 34, a2 += 34, a3 += 34)
        {
            var q = Vector256.Load((sbyte*)(w + 2));
            var abs = Avx2.Abs(q);
            var d = Half16.Load(w);
            acc0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(DotU8S8(abs, Avx2.Sign(Vector256.Load((sbyte*)(a0 + 2)), q))), Vector256.Create(d * Half16.Load(a0)), acc0);
            acc1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(DotU8S8(abs, Avx2.Sign(Vector256.Load((sbyte*)(a1 + 2)), q))), Vector256.Create(d * Half16.Load(a1)), acc1);
            acc2 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(DotU8S8(abs, Avx2.Sign(Vector256.Load((sbyte*)(a2 + 2)), q))), Vector256.Create(d * Half16.Load(a2)), acc2);
            acc3 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(DotU8S8(abs, Avx2.Sign(Vector256.Load((sbyte*)(a3 + 2)), q))), Vector256.Create(d * Half16.Load(a3)), acc3);
        }
        result[0] = Vector256.Sum(acc0);
        result[1] = Vector256.Sum(acc1);
        result[2] = Vector256.Sum(acc2);
        result[3] = Vector256.Sum(acc3);
    }

    public static void Q4_Kx4(byte* w, byte* a, nint stride, int n, float* result)
    {
        Vector256<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        Vector256<float> min0 = default, min1 = default, min2 = default, min3 = default;
        var mask = Vector256.Create((byte)0x0F);
        for (var b = 0; b < n / 256; b++, w += 144, a += ActivationQuantizer.Q8_KBlockBytes)
        {
            var (scales, mins) = ScalesMinsK4(w + 4);
            var qs = w + 16;
            var y0 = (sbyte*)(a + 4);
            var sv = ScaleVector(scales);
            Vector256<int> s0 = default, s1 = default, s2 = default, s3 = default;
            Q4KChunkx4(qs, y0, stride, sv, mask, 0, ref s0, ref s1, ref s2, ref s3);
            Q4KChunkx4(qs, y0, stride, sv, mask, 1, ref s0, ref s1, ref s2, ref s3);
            Q4KChunkx4(qs, y0, stride, sv, mask, 2, ref s0, ref s1, ref s2, ref s3);
            Q4KChunkx4(qs, y0, stride, sv, mask, 3, ref s0, ref s1, ref s2, ref s3);
            var d = Half16.Load(w);
            var dmin = Half16.Load(w + 2);
            var b0 = a;
            var b1 = a + stride;
            var b2 = a + 2 * stride;
            var b3 = a + 3 * stride;
            acc0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(s0), Vector256.Create(*(float*)b0 * d), acc0);
            acc1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(s1), Vector256.Create(*(float*)b1 * d), acc1);
            acc2 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(s2), Vector256.Create(*(float*)b2 * d), acc2);
            acc3 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(s3), Vector256.Create(*(float*)b3 * d), acc3);
            min0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(MinsTimesBlockSums(mins, (short*)(b0 + 260))), Vector256.Create(*(float*)b0 * dmin), min0);
            min1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(MinsTimesBlockSums(mins, (short*)(b1 + 260))), Vector256.Create(*(float*)b1 * dmin), min1);
            min2 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(MinsTimesBlockSums(mins, (short*)(b2 + 260))), Vector256.Create(*(float*)b2 * dmin), min2);
            min3 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(MinsTimesBlockSums(mins, (short*)(b3 + 260))), Vector256.Create(*(float*)b3 * dmin), min3);
        }
        result[0] = Vector256.Sum(acc0) - Vector256.Sum(min0);
        result[1] = Vector256.Sum(acc1) - Vector256.Sum(min1);
        result[2] = Vector256.Sum(acc2) - Vector256.Sum(min2);
        result[3] = Vector256.Sum(acc3) - Vector256.Sum(min3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Q4KChunkx4(byte* qs, sbyte* y0, nint stride, Vector256<byte> scales, Vector256<byte> mask, int c,
        ref Vector256<int> s0, ref Vector256<int> s1, ref Vector256<int> s2, ref Vector256<int> s3)
    {
        var raw = Vector256.Load(qs + 32 * c);
        var lo = raw & mask;
        var hi = (raw.AsUInt16() >> 4).AsByte() & mask;
        var sl = SpreadScale(scales, 2 * c);
        var sh = SpreadScale(scales, 2 * c + 1);
        var y = y0 + 64 * c;
        s0 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(lo, Vector256.Load(y)), sl) + Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(hi, Vector256.Load(y + 32)), sh);
        y += stride;
        s1 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(lo, Vector256.Load(y)), sl) + Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(hi, Vector256.Load(y + 32)), sh);
        y += stride;
        s2 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(lo, Vector256.Load(y)), sl) + Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(hi, Vector256.Load(y + 32)), sh);
        y += stride;
        s3 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(lo, Vector256.Load(y)), sl) + Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(hi, Vector256.Load(y + 32)), sh);
    }

    public static void Q6_Kx4(byte* w, byte* a, nint stride, int n, float* result)
    {
        float sum0 = 0, sum1 = 0, sum2 = 0, sum3 = 0;
        var m4 = Vector256.Create((byte)0x0F);
        var m30 = Vector256.Create((byte)0x30);
        var m32 = Vector256.Create((byte)32);
        for (var b = 0; b < n / 256; b++, w += 210, a += ActivationQuantizer.Q8_KBlockBytes)
        {
            var scv = Vector128.Load((sbyte*)(w + 192));
            var y0 = (sbyte*)(a + 4);
            Vector256<int> s0 = default, s1 = default, s2 = default, s3 = default;
            for (var h = 0; h < 2; h++)
            {
                var ql0 = Vector256.Load(w + 64 * h);
                var ql1 = Vector256.Load(w + 64 * h + 32);
                var qh = Vector256.Load(w + 128 + 32 * h);
                // One quarter (32 values) at a time keeps the live registers within the sixteen AVX2 has.
                var o = 128 * h;
                Q6KQuarterx4(Q6Quarter(ql0, ql1, qh, 0, m4, m30), ScalePair(scv, 4 * h), y0 + o, stride, m32, ref s0, ref s1, ref s2, ref s3);
                Q6KQuarterx4(Q6Quarter(ql0, ql1, qh, 1, m4, m30), ScalePair(scv, 4 * h + 1), y0 + o + 32, stride, m32, ref s0, ref s1, ref s2, ref s3);
                Q6KQuarterx4(Q6Quarter(ql0, ql1, qh, 2, m4, m30), ScalePair(scv, 4 * h + 2), y0 + o + 64, stride, m32, ref s0, ref s1, ref s2, ref s3);
                Q6KQuarterx4(Q6Quarter(ql0, ql1, qh, 3, m4, m30), ScalePair(scv, 4 * h + 3), y0 + o + 96, stride, m32, ref s0, ref s1, ref s2, ref s3);
            }
            var d = Half16.Load(w + 208);
            sum0 += Vector256.Sum(s0) * (d * *(float*)a);
            sum1 += Vector256.Sum(s1) * (d * *(float*)(a + stride));
            sum2 += Vector256.Sum(s2) * (d * *(float*)(a + 2 * stride));
            sum3 += Vector256.Sum(s3) * (d * *(float*)(a + 3 * stride));
        }
        result[0] = sum0;
        result[1] = sum1;
        result[2] = sum2;
        result[3] = sum3;
    }

    // One quarter of a Q6_K row against the same 32 positions of four activation rows `stride` bytes apart.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Q6KQuarterx4(Vector256<byte> q, Vector256<short> scale, sbyte* y, nint stride, Vector256<byte> m32,
        ref Vector256<int> s0, ref Vector256<int> s1, ref Vector256<int> s2, ref Vector256<int> s3)
    {
        s0 += Avx2.MultiplyAddAdjacent(Offset32(q, Vector256.Load(y), m32), scale);
        s1 += Avx2.MultiplyAddAdjacent(Offset32(q, Vector256.Load(y + stride), m32), scale);
        s2 += Avx2.MultiplyAddAdjacent(Offset32(q, Vector256.Load(y + 2 * stride), m32), scale);
        s3 += Avx2.MultiplyAddAdjacent(Offset32(q, Vector256.Load(y + 3 * stride), m32), scale);
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

    /// <summary>The 8 six-bit scales (low ulong) and 8 six-bit mins (high ulong) of a Q4_K/Q5_K block, one per byte,
    /// unpacked from the 12 packed bytes at <paramref name="q"/> with word operations instead of 16 byte extractions.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (ulong Scales, ulong Mins) ScalesMinsK4(byte* q)
    {
        var u0 = *(uint*)q;
        var u1 = *(uint*)(q + 4);
        var u2 = *(uint*)(q + 8);
        // Sub-blocks 0-3: the low 6 bits of bytes 0-3 (scales) and 4-7 (mins). Sub-blocks 4-7: a nibble of bytes 8-11
        // plus the top 2 bits of bytes 0-3 (scales) or 4-7 (mins) as bits 4-5.
        var scales = (u0 & 0x3F3F3F3Fu) | ((ulong)((u2 & 0x0F0F0F0Fu) | ((u0 >> 2) & 0x30303030u)) << 32);
        var mins = (u1 & 0x3F3F3F3Fu) | ((ulong)(((u2 >> 4) & 0x0F0F0F0Fu) | ((u1 >> 2) & 0x30303030u)) << 32);
        return (scales, mins);
    }

    /// <summary>Σⱼ minⱼ·(bsums[2j] + bsums[2j+1]) for a Q8_K block's 16 partial sums, as 8 int lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> MinsTimesBlockSums(ulong mins, short* bsums)
    {
        var m = Vector128.CreateScalar(mins).AsByte();
        var m16 = Avx2.ConvertToVector256Int16(Sse2.UnpackLow(m, m)); // m0 m0 m1 m1 … m7 m7 as shorts
        return Avx2.MultiplyAddAdjacent(Vector256.Load(bsums), m16);
    }

    /// <summary>The eight byte scales as 16-bit words, in both 128-bit lanes (for <see cref="SpreadScale"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> ScaleVector(ulong packed)
    {
        var words = Sse41.ConvertToVector128Int16(Vector128.CreateScalar(packed).AsByte()).AsByte();
        return Vector256.Create(words, words);
    }

    // vpshufb controls that copy word i of each 128-bit lane to all eight of its words.
    private static readonly Vector256<byte>[] Spread = [.. Enumerable.Range(0, 8).Select(i =>
        Vector256.Create(Enumerable.Range(0, 32).Select(b => (byte)(2 * i + (b & 1))).ToArray()))];

    /// <summary>Scale <paramref name="index"/> of <see cref="ScaleVector"/> in every 16-bit lane: one shuffle instead of a
    /// scalar extract and broadcast.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> SpreadScale(Vector256<byte> scales, int index) => Avx2.Shuffle(scales, Spread[index]).AsInt16();

    public static float Q4_K(byte* w, byte* a, int n)
    {
        // Two independent integer accumulators (low and high nibbles) so the adds do not form one long dependency
        // chain; mins are applied with one SIMD multiply of the activation block sums per block.
        var acc = Vector256<float>.Zero;
        var accMin = Vector256<float>.Zero;
        var mask = Vector256.Create((byte)0x0F);
        for (var b = 0; b < n / 256; b++, w += 144, a += ActivationQuantizer.Q8_KBlockBytes)
        {
            var (scales, mins) = ScalesMinsK4(w + 4);
            var sv = ScaleVector(scales);
            var qs = w + 16;
            var y = (sbyte*)(a + 4);
            // Unrolled by hand: the JIT does not unroll the four chunks, and their index arithmetic cost a third of the loop.
            var sumLo = Vector256<int>.Zero;
            var sumHi = Vector256<int>.Zero;
            Q4KChunk(qs, y, sv, mask, 0, ref sumLo, ref sumHi);
            Q4KChunk(qs, y, sv, mask, 1, ref sumLo, ref sumHi);
            Q4KChunk(qs, y, sv, mask, 2, ref sumLo, ref sumHi);
            Q4KChunk(qs, y, sv, mask, 3, ref sumLo, ref sumHi);
            var da = *(float*)a;
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sumLo + sumHi), Vector256.Create(da * Half16.Load(w)), acc);
            accMin = Fma.MultiplyAdd(Avx.ConvertToVector256Single(MinsTimesBlockSums(mins, (short*)(a + 260))),
                Vector256.Create(da * Half16.Load(w + 2)), accMin);
        }
        return Vector256.Sum(acc) - Vector256.Sum(accMin);
    }

    /// <summary>Two consecutive weight rows (<paramref name="rowBytes"/> apart) against one activation row: each
    /// activation vector is loaded once for both rows, and the two rows' work interleaves. Each row's arithmetic is
    /// <see cref="Q4_K"/>'s, in the same order, so the results are bit-identical to two single calls.</summary>
    public static void Q4_Kr2(byte* w, nint rowBytes, byte* a, int n, float* result)
    {
        Vector256<float> acc0 = default, min0 = default, acc1 = default, min1 = default;
        var mask = Vector256.Create((byte)0x0F);
        var v = w + rowBytes;
        for (var b = 0; b < n / 256; b++, w += 144, v += 144, a += ActivationQuantizer.Q8_KBlockBytes)
        {
            var (scales0, mins0) = ScalesMinsK4(w + 4);
            var (scales1, mins1) = ScalesMinsK4(v + 4);
            var sv0 = ScaleVector(scales0);
            var sv1 = ScaleVector(scales1);
            var y = (sbyte*)(a + 4);
            Vector256<int> lo0 = default, hi0 = default, lo1 = default, hi1 = default;
            Q4KChunkr2(w + 16, v + 16, y, sv0, sv1, mask, 0, ref lo0, ref hi0, ref lo1, ref hi1);
            Q4KChunkr2(w + 16, v + 16, y, sv0, sv1, mask, 1, ref lo0, ref hi0, ref lo1, ref hi1);
            Q4KChunkr2(w + 16, v + 16, y, sv0, sv1, mask, 2, ref lo0, ref hi0, ref lo1, ref hi1);
            Q4KChunkr2(w + 16, v + 16, y, sv0, sv1, mask, 3, ref lo0, ref hi0, ref lo1, ref hi1);
            var da = *(float*)a;
            var bsums = (short*)(a + 260);
            acc0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(lo0 + hi0), Vector256.Create(da * Half16.Load(w)), acc0);
            min0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(MinsTimesBlockSums(mins0, bsums)), Vector256.Create(da * Half16.Load(w + 2)), min0);
            acc1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(lo1 + hi1), Vector256.Create(da * Half16.Load(v)), acc1);
            min1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(MinsTimesBlockSums(mins1, bsums)), Vector256.Create(da * Half16.Load(v + 2)), min1);
        }
        result[0] = Vector256.Sum(acc0) - Vector256.Sum(min0);
        result[1] = Vector256.Sum(acc1) - Vector256.Sum(min1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Q4KChunkr2(byte* qs0, byte* qs1, sbyte* y, Vector256<byte> sv0, Vector256<byte> sv1, Vector256<byte> mask, int c,
        ref Vector256<int> lo0, ref Vector256<int> hi0, ref Vector256<int> lo1, ref Vector256<int> hi1)
    {
        var yl = Vector256.Load(y + 64 * c);
        var yh = Vector256.Load(y + 64 * c + 32);
        var r0 = Vector256.Load(qs0 + 32 * c);
        var r1 = Vector256.Load(qs1 + 32 * c);
        lo0 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(r0 & mask, yl), SpreadScale(sv0, 2 * c));
        hi0 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent((r0.AsUInt16() >> 4).AsByte() & mask, yh), SpreadScale(sv0, 2 * c + 1));
        lo1 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(r1 & mask, yl), SpreadScale(sv1, 2 * c));
        hi1 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent((r1.AsUInt16() >> 4).AsByte() & mask, yh), SpreadScale(sv1, 2 * c + 1));
    }

    /// <summary>Chunk <paramref name="c"/> (32 bytes of nibbles: sub-blocks 2c and 2c+1) of a Q4_K block against its 64 activations.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Q4KChunk(byte* qs, sbyte* y, Vector256<byte> scales, Vector256<byte> mask, int c, ref Vector256<int> sumLo, ref Vector256<int> sumHi)
    {
        var raw = Vector256.Load(qs + 32 * c);
        var pLo = Avx2.MultiplyAddAdjacent(raw & mask, Vector256.Load(y + 64 * c));
        var pHi = Avx2.MultiplyAddAdjacent((raw.AsUInt16() >> 4).AsByte() & mask, Vector256.Load(y + 64 * c + 32));
        sumLo += Avx2.MultiplyAddAdjacent(pLo, SpreadScale(scales, 2 * c));
        sumHi += Avx2.MultiplyAddAdjacent(pHi, SpreadScale(scales, 2 * c + 1));
    }

    public static float Q5_K(byte* w, byte* a, int n)
    {
        var acc = Vector256<float>.Zero;
        var accMin = Vector256<float>.Zero;
        var mask = Vector256.Create((byte)0x0F);
        var sixteen = Vector256.Create((byte)16);
        for (var b = 0; b < n / 256; b++, w += 176, a += ActivationQuantizer.Q8_KBlockBytes)
        {
            var (scales, mins) = ScalesMinsK4(w + 4);
            var sv = ScaleVector(scales);
            var qhv = Vector256.Load(w + 16);
            var qs = w + 48;
            var y = (sbyte*)(a + 4);
            var sumLo = Vector256<int>.Zero;
            var sumHi = Vector256<int>.Zero;
            for (var c = 0; c < 4; c++)
            {
                var raw = Vector256.Load(qs + 32 * c);
                var b0 = Vector256.Create((byte)(1 << (2 * c)));
                var b1 = Vector256.Create((byte)(2 << (2 * c)));
                var lo = (raw & mask) | (Vector256.Equals(qhv & b0, b0) & sixteen);
                var hi = ((raw.AsUInt16() >> 4).AsByte() & mask) | (Vector256.Equals(qhv & b1, b1) & sixteen);
                sumLo += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(lo, Vector256.Load(y + 64 * c)), SpreadScale(sv, 2 * c));
                sumHi += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(hi, Vector256.Load(y + 64 * c + 32)), SpreadScale(sv, 2 * c + 1));
            }
            var da = *(float*)a;
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sumLo + sumHi), Vector256.Create(da * Half16.Load(w)), acc);
            accMin = Fma.MultiplyAdd(Avx.ConvertToVector256Single(MinsTimesBlockSums(mins, (short*)(a + 260))),
                Vector256.Create(da * Half16.Load(w + 2)), accMin);
        }
        return Vector256.Sum(acc) - Vector256.Sum(accMin);
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
            var scv = Vector128.Load((sbyte*)(w + 192));
            var y = (sbyte*)(a + 4);
            var sumA = Vector256<int>.Zero;
            var sumB = Vector256<int>.Zero;
            Q6KHalf(w, y, scv, m4, m30, m32, 0, ref sumA, ref sumB); // unrolled by hand, as Q4_K
            Q6KHalf(w, y, scv, m4, m30, m32, 1, ref sumA, ref sumB);
            var sumi = sumA + sumB;
            sum += Vector256.Sum(sumi) * (Half16.Load(w + 208) * *(float*)a);
        }
        return sum;
    }

    /// <summary>Two weight rows (<paramref name="rowBytes"/> apart) against one activation row, like
    /// <see cref="Q4_Kr2"/>: the activation vectors and their -32 offset products are computed once for both rows;
    /// each row's integer sums and float steps are <see cref="Q6_K"/>'s, so the results are bit-identical.</summary>
    public static void Q6_Kr2(byte* w, nint rowBytes, byte* a, int n, float* result)
    {
        float sum0 = 0, sum1 = 0;
        var m4 = Vector256.Create((byte)0x0F);
        var m30 = Vector256.Create((byte)0x30);
        var m32 = Vector256.Create((byte)32);
        var v = w + rowBytes;
        for (var b = 0; b < n / 256; b++, w += 210, v += 210, a += ActivationQuantizer.Q8_KBlockBytes)
        {
            var scv0 = Vector128.Load((sbyte*)(w + 192));
            var scv1 = Vector128.Load((sbyte*)(v + 192));
            var y = (sbyte*)(a + 4);
            Vector256<int> s0 = default, s1 = default;
            Q6KHalfr2(w, v, y, scv0, scv1, m4, m30, m32, 0, ref s0, ref s1);
            Q6KHalfr2(w, v, y, scv0, scv1, m4, m30, m32, 1, ref s0, ref s1);
            var da = *(float*)a;
            sum0 += Vector256.Sum(s0) * (Half16.Load(w + 208) * da);
            sum1 += Vector256.Sum(s1) * (Half16.Load(v + 208) * da);
        }
        result[0] = sum0;
        result[1] = sum1;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Q6KHalfr2(byte* w, byte* v, sbyte* y, Vector128<sbyte> scv0, Vector128<sbyte> scv1, Vector256<byte> m4, Vector256<byte> m30, Vector256<byte> m32, int h,
        ref Vector256<int> s0, ref Vector256<int> s1)
    {
        var ys = y + 128 * h;
        var wl0 = Vector256.Load(w + 64 * h);
        var wl1 = Vector256.Load(w + 64 * h + 32);
        var wh = Vector256.Load(w + 128 + 32 * h);
        var vl0 = Vector256.Load(v + 64 * h);
        var vl1 = Vector256.Load(v + 64 * h + 32);
        var vh = Vector256.Load(v + 128 + 32 * h);
        Q6KQuarterr2(Q6Quarter(wl0, wl1, wh, 0, m4, m30), Q6Quarter(vl0, vl1, vh, 0, m4, m30), Vector256.Load(ys), ScalePair(scv0, 4 * h), ScalePair(scv1, 4 * h), m32, ref s0, ref s1);
        Q6KQuarterr2(Q6Quarter(wl0, wl1, wh, 1, m4, m30), Q6Quarter(vl0, vl1, vh, 1, m4, m30), Vector256.Load(ys + 32), ScalePair(scv0, 4 * h + 1), ScalePair(scv1, 4 * h + 1), m32, ref s0, ref s1);
        Q6KQuarterr2(Q6Quarter(wl0, wl1, wh, 2, m4, m30), Q6Quarter(vl0, vl1, vh, 2, m4, m30), Vector256.Load(ys + 64), ScalePair(scv0, 4 * h + 2), ScalePair(scv1, 4 * h + 2), m32, ref s0, ref s1);
        Q6KQuarterr2(Q6Quarter(wl0, wl1, wh, 3, m4, m30), Q6Quarter(vl0, vl1, vh, 3, m4, m30), Vector256.Load(ys + 96), ScalePair(scv0, 4 * h + 3), ScalePair(scv1, 4 * h + 3), m32, ref s0, ref s1);
    }

    // One quarter of two rows against the same 32 activations: the -32 offset product is computed once for both.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Q6KQuarterr2(Vector256<byte> q0, Vector256<byte> q1, Vector256<sbyte> y, Vector256<short> k0, Vector256<short> k1, Vector256<byte> m32,
        ref Vector256<int> s0, ref Vector256<int> s1)
    {
        var offset = Avx2.MultiplyAddAdjacent(m32, y);
        s0 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q0, y) - offset, k0);
        s1 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q1, y) - offset, k1);
    }

    /// <summary>The 6-bit values of quarter <paramref name="k"/> (32 of them) of a Q6_K half-block: low nibbles from
    /// <paramref name="ql0"/>/<paramref name="ql1"/>, two high bits from <paramref name="qh"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Q6Quarter(Vector256<byte> ql0, Vector256<byte> ql1, Vector256<byte> qh, int k, Vector256<byte> m4, Vector256<byte> m30) => k switch
    {
        0 => (ql0 & m4) | ((qh.AsUInt16() << 4).AsByte() & m30),
        1 => (ql1 & m4) | ((qh.AsUInt16() << 2).AsByte() & m30),
        2 => ((ql0.AsUInt16() >> 4).AsByte() & m4) | (qh & m30),
        _ => ((ql1.AsUInt16() >> 4).AsByte() & m4) | ((qh.AsUInt16() >> 2).AsByte() & m30),
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Q6KHalf(byte* w, sbyte* y, Vector128<sbyte> scv, Vector256<byte> m4, Vector256<byte> m30, Vector256<byte> m32, int h,
        ref Vector256<int> sumA, ref Vector256<int> sumB)
    {
        var ql0 = Vector256.Load(w + 64 * h);
        var ql1 = Vector256.Load(w + 64 * h + 32);
        var qh = Vector256.Load(w + 128 + 32 * h);
        var q0 = Q6Quarter(ql0, ql1, qh, 0, m4, m30);
        var q1 = Q6Quarter(ql0, ql1, qh, 1, m4, m30);
        var q2 = Q6Quarter(ql0, ql1, qh, 2, m4, m30);
        var q3 = Q6Quarter(ql0, ql1, qh, 3, m4, m30);
        var ys = y + 128 * h;
        sumA += Avx2.MultiplyAddAdjacent(Offset32(q0, Vector256.Load(ys), m32), ScalePair(scv, 4 * h));
        sumB += Avx2.MultiplyAddAdjacent(Offset32(q1, Vector256.Load(ys + 32), m32), ScalePair(scv, 4 * h + 1));
        sumA += Avx2.MultiplyAddAdjacent(Offset32(q2, Vector256.Load(ys + 64), m32), ScalePair(scv, 4 * h + 2));
        sumB += Avx2.MultiplyAddAdjacent(Offset32(q3, Vector256.Load(ys + 96), m32), ScalePair(scv, 4 * h + 3));
    }

    public static float Q2_K(byte* w, byte* a, int n)
    {
        // Element e of a block: 2 bits of qs[32·(e/128) + e%32] at shift 2·((e%128)/32); 16 sub-blocks of 16 elements with
        // a 4-bit scale (low nibble) and 4-bit min (high nibble) each.
        var acc = Vector256<float>.Zero;
        var accMin = Vector256<float>.Zero;
        var three = Vector256.Create((byte)3);
        var low4 = Vector128.Create((byte)0x0F);
        for (var b = 0; b < n / 256; b++, w += 84, a += ActivationQuantizer.Q8_KBlockBytes)
        {
            var y = (sbyte*)(a + 4);
            var sc = Vector128.Load(w);
            var scales = Avx2.ConvertToVector256Int16(sc & low4);
            var mins = Avx2.ConvertToVector256Int16((sc.AsUInt16() >> 4).AsByte() & low4);
            var sumA = Vector256<int>.Zero;
            var sumB = Vector256<int>.Zero;
            for (var h = 0; h < 2; h++)
            {
                var raw = Vector256.Load(w + 16 + 32 * h);
                var ys = y + 128 * h;
                for (var g = 0; g < 4; g += 2)
                {
                    var q0 = (raw.AsUInt16() >> (2 * g)).AsByte() & three;
                    var q1 = (raw.AsUInt16() >> (2 * g + 2)).AsByte() & three;
                    sumA += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q0, Vector256.Load(ys + 32 * g)), PairScales(scales, 8 * h + 2 * g));
                    sumB += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q1, Vector256.Load(ys + 32 * g + 32)), PairScales(scales, 8 * h + 2 * g + 2));
                }
            }
            var da = *(float*)a;
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sumA + sumB), Vector256.Create(da * Half16.Load(w + 80)), acc);
            var summ = Avx2.MultiplyAddAdjacent(Vector256.Load((short*)(a + 260)), mins);
            accMin = Fma.MultiplyAdd(Avx.ConvertToVector256Single(summ), Vector256.Create(da * Half16.Load(w + 82)), accMin);
        }
        return Vector256.Sum(acc) - Vector256.Sum(accMin);
    }

    public static float Q3_K(byte* w, byte* a, int n)
    {
        // As Q2_K for the low 2 bits; the high bit (hmask[e%32] bit e/32) clear means −4, i.e. value = (q | 4·hbit) − 4.
        // The −4 is taken off in the 16-bit pair sums as in Q6_K, so each block's dot is an exact integer.
        var acc = Vector256<float>.Zero;
        var three = Vector256.Create((byte)3);
        var four = Vector256.Create((byte)4);
        for (var b = 0; b < n / 256; b++, w += 110, a += ActivationQuantizer.Q8_KBlockBytes)
        {
            var y = (sbyte*)(a + 4);
            var scales = Q3KScales(w + 96);
            var hm = Vector256.Load(w);
            var sumA = Vector256<int>.Zero;
            var sumB = Vector256<int>.Zero;
            for (var h = 0; h < 2; h++)
            {
                var raw = Vector256.Load(w + 32 + 32 * h);
                var ys = y + 128 * h;
                for (var g = 0; g < 4; g += 2)
                {
                    var bit0 = Vector256.Create((byte)(1 << (4 * h + g)));
                    var bit1 = Vector256.Create((byte)(2 << (4 * h + g)));
                    var q0 = ((raw.AsUInt16() >> (2 * g)).AsByte() & three) | (Vector256.Equals(hm & bit0, bit0) & four);
                    var q1 = ((raw.AsUInt16() >> (2 * g + 2)).AsByte() & three) | (Vector256.Equals(hm & bit1, bit1) & four);
                    var y0 = Vector256.Load(ys + 32 * g);
                    var y1 = Vector256.Load(ys + 32 * g + 32);
                    var p0 = Avx2.Subtract(Avx2.MultiplyAddAdjacent(q0, y0), Avx2.MultiplyAddAdjacent(four, y0));
                    var p1 = Avx2.Subtract(Avx2.MultiplyAddAdjacent(q1, y1), Avx2.MultiplyAddAdjacent(four, y1));
                    sumA += Avx2.MultiplyAddAdjacent(p0, PairScales(scales, 8 * h + 2 * g));
                    sumB += Avx2.MultiplyAddAdjacent(p1, PairScales(scales, 8 * h + 2 * g + 2));
                }
            }
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sumA + sumB), Vector256.Create(*(float*)a * Half16.Load(w + 108)), acc);
        }
        return Vector256.Sum(acc);
    }

    /// <summary>Q3_K's 16 six-bit scales minus 32, as 16 shorts: low nibbles from bytes 0-7 (sub-blocks 0-7 low, 8-15
    /// high nibble), two high bits from bytes 8-11 (shift 0, 2, 4, 6 for sub-blocks 0-3, 4-7, 8-11, 12-15).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> Q3KScales(byte* s)
    {
        var lowBits = *(ulong*)s;
        var u = *(uint*)(s + 8);
        const uint Two = 0x03030303u;
        var first = (lowBits & 0x0F0F0F0F0F0F0F0FUL) | (((u & Two) | ((ulong)((u >> 2) & Two) << 32)) << 4);
        var second = ((lowBits >> 4) & 0x0F0F0F0F0F0F0F0FUL) | ((((u >> 4) & Two) | ((ulong)((u >> 6) & Two) << 32)) << 4);
        var bytes = Vector128.Create(first, second).AsByte();
        return Avx2.ConvertToVector256Int16(bytes).AsInt16() - Vector256.Create((short)32);
    }

    /// <summary>Scale <paramref name="j"/> in the low 128-bit lane and scale j+1 in the high lane (for the two
    /// 16-element halves of a 32-byte product).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> PairScales(Vector256<short> scales, int j) =>
        Vector256.Create(Vector128.Create(scales.GetElement(j)), Vector128.Create(scales.GetElement(j + 1)));

    public static float IQ4_XS(byte* w, byte* a, int n)
    {
        var acc = Vector256<float>.Zero;
        var table = Vector256.Create(Vector128.Create(DotReference.Iq4Levels).AsByte());
        for (var b = 0; b < n / 256; b++, w += 136, a += ActivationQuantizer.Q8_KBlockBytes)
        {
            var sh = *(ushort*)(w + 2);
            var sl = *(uint*)(w + 4);
            var y = (sbyte*)(a + 4);
            var sumA = Vector256<int>.Zero;
            var sumB = Vector256<int>.Zero;
            for (var ib = 0; ib < 8; ib += 2)
            {
                var q0 = Avx2.Shuffle(table, Nibbles(w + 8 + 16 * ib)).AsSByte();
                var q1 = Avx2.Shuffle(table, Nibbles(w + 8 + 16 * ib + 16)).AsSByte();
                var y0 = Vector256.Load(y + 32 * ib);
                var y1 = Vector256.Load(y + 32 * ib + 32);
                var ls0 = (short)(((sl >> (4 * ib)) & 0xF | (((uint)sh >> (2 * ib)) & 3) << 4) - 32);
                var ls1 = (short)(((sl >> (4 * ib + 4)) & 0xF | (((uint)sh >> (2 * ib + 2)) & 3) << 4) - 32);
                // |q|·sign(y, q) pairs stay within 16 bits (2·127·127 < 32767).
                sumA += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(Avx2.Abs(q0), Avx2.Sign(y0, q0)), Vector256.Create(ls0));
                sumB += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(Avx2.Abs(q1), Avx2.Sign(y1, q1)), Vector256.Create(ls1));
            }
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sumA + sumB), Vector256.Create(Half16.Load(w) * *(float*)a), acc);
        }
        return Vector256.Sum(acc);
    }

    /// <summary>Pair sums of (q − 32)·y for unsigned 6-bit q and signed y, in 16 bits (|result| ≤ 2·32·128).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> Offset32(Vector256<byte> q, Vector256<sbyte> y, Vector256<byte> m32) =>
        Avx2.Subtract(Avx2.MultiplyAddAdjacent(q, y), Avx2.MultiplyAddAdjacent(m32, y));

    // vpshufb controls that put byte 2k of a Q6_K block's 16 scales in bytes 0-7 and byte 2k+1 in bytes 8-15.
    private static readonly Vector128<sbyte>[] PairShuffle = [.. Enumerable.Range(0, 8).Select(k =>
        Vector128.Create(Enumerable.Range(0, 16).Select(b => (sbyte)(2 * k + b / 8)).ToArray()))];

    /// <summary>Scales 2k and 2k+1 of <paramref name="scales"/> (a Q6_K block's 16 signed scales) widened to 16 bits,
    /// eight copies each: a shuffle and a widening instead of two scalar loads and broadcasts.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> ScalePair(Vector128<sbyte> scales, int k) =>
        Avx2.ConvertToVector256Int16(Ssse3.Shuffle(scales, PairShuffle[k]));
}
