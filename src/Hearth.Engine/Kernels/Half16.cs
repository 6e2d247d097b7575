using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Hearth.Engine.Kernels;

/// <summary>IEEE half and bfloat16 conversions as ggml does them (round to nearest even).</summary>
internal static unsafe class Half16
{
    // ggml converts fp16 scales through a 64K-entry table; so do we: a lookup is cheaper than the
    // software conversion on the per-block hot path.
    private static readonly float[] Table = BuildTable();

    private static float[] BuildTable()
    {
        var t = new float[65536];
        for (var i = 0; i < t.Length; i++)
            t[i] = (float)BitConverter.UInt16BitsToHalf((ushort)i);
        return t;
    }

    /// <summary>The fp16 value stored at <paramref name="p"/> (little-endian), widened to float.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Load(byte* p) => Unsafe.Add(ref MemoryMarshalFirst(), *(ushort*)p);

    /// <summary>
    /// Eight fp16 values at <paramref name="p"/> widened to float, exactly (zeros, subnormals, infinities and NaNs
    /// included) with integer SIMD: the exponent is re-biased in place, subnormals are normalised by a float
    /// subtraction of 2^-14 (exact), and an all-ones exponent maps to float's.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load8(ushort* p)
    {
        var (lo, hi) = Vector128.Widen(Vector128.Load(p));
        var h = Vector256.Create(lo, hi);
        var magnitude = (h & Vector256.Create(0x7FFFu)) << 13;
        var exponent = magnitude & Vector256.Create(0x0F800000u);
        var rebias = Vector256.Create(112u << 23);
        var bits = magnitude + rebias;
        bits += Vector256.Equals(exponent, Vector256.Create(0x0F800000u)) & rebias; // inf / NaN: exponent 255
        var subnormal = ((bits + Vector256.Create(1u << 23)).AsSingle() - Vector256.Create(113u << 23).AsSingle()).AsUInt32();
        bits = Vector256.ConditionalSelect(Vector256.Equals(exponent, Vector256<uint>.Zero), subnormal, bits);
        return (bits | ((h & Vector256.Create(0x8000u)) << 16)).AsSingle();
    }

    /// <summary>Widens fp16 bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToSingle(ushort bits) => Unsafe.Add(ref MemoryMarshalFirst(), bits);

    /// <summary>Rounds a float to fp16 bits (nearest even), like F16C's <c>vcvtps2ph</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort FromSingle(float f) => BitConverter.HalfToUInt16Bits((Half)f);

    /// <summary>Rounds a float to bfloat16 bits (nearest even; NaN kept quiet), like ggml's <c>GGML_FP32_TO_BF16</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort BFloat16FromSingle(float f)
    {
        var u = BitConverter.SingleToUInt32Bits(f);
        if ((u & 0x7fffffff) > 0x7f800000)
            return (ushort)((u >> 16) | 64);
        return (ushort)((u + (0x7fff + ((u >> 16) & 1))) >> 16);
    }

    /// <summary>Widens bfloat16 bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float BFloat16ToSingle(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ref float MemoryMarshalFirst() => ref System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(Table);
}
