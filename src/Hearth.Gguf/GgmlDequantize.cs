using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace Hearth.Gguf;

/// <summary>
/// Conversion of ggml blocks to float32: the reference (scalar) implementation of every block
/// format Hearth reads. Results are bit-identical to ggml's <c>to_float</c> functions.
/// </summary>
public static class GgmlDequantize
{
    /// <summary>IQ4_NL / IQ4_XS code book: the 16 non-linear levels.</summary>
    internal static ReadOnlySpan<sbyte> Iq4Levels => [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];

    /// <summary>
    /// Converts <paramref name="source"/> (whole blocks of <paramref name="type"/>) into <paramref name="destination"/>,
    /// whose length is the element count.
    /// </summary>
    /// <exception cref="NotSupportedException">The type cannot be dequantized yet (IQ*, TQ*, MXFP4, integer types); the message names it.</exception>
    public static void Dequantize(GgmlType type, ReadOnlySpan<byte> source, Span<float> destination)
    {
        var traits = GgmlTypeTraits.Get(type);
        if (!traits.CanDequantize)
            ThrowUnsupported(traits);
        if (destination.Length % traits.BlockSize != 0)
            throw new ArgumentException($"{destination.Length} elements is not a whole number of {traits.Name} blocks of {traits.BlockSize}.", nameof(destination));
        var blocks = destination.Length / traits.BlockSize;
        if (source.Length != (long)blocks * traits.TypeSize)
            throw new ArgumentException($"{destination.Length} {traits.Name} elements need {(long)blocks * traits.TypeSize} bytes, got {source.Length}.", nameof(source));

        switch (type)
        {
            case GgmlType.F32:
                for (var i = 0; i < destination.Length; i++)
                    destination[i] = BinaryPrimitives.ReadSingleLittleEndian(source[(i * 4)..]);
                return;
            case GgmlType.F16:
                for (var i = 0; i < destination.Length; i++)
                    destination[i] = Half(source, i * 2);
                return;
            case GgmlType.BF16:
                for (var i = 0; i < destination.Length; i++)
                    destination[i] = BFloat16(source, i * 2);
                return;
        }

        for (var b = 0; b < blocks; b++)
        {
            var block = source.Slice(b * traits.TypeSize, traits.TypeSize);
            var y = destination.Slice(b * traits.BlockSize, traits.BlockSize);
            switch (type)
            {
                case GgmlType.Q4_0: Q4_0(block, y); break;
                case GgmlType.Q4_1: Q4_1(block, y); break;
                case GgmlType.Q5_0: Q5_0(block, y); break;
                case GgmlType.Q5_1: Q5_1(block, y); break;
                case GgmlType.Q8_0: Q8_0(block, y); break;
                case GgmlType.Q8_1: Q8_1(block, y); break;
                case GgmlType.Q2_K: Q2_K(block, y); break;
                case GgmlType.Q3_K: Q3_K(block, y); break;
                case GgmlType.Q4_K: Q4_K(block, y); break;
                case GgmlType.Q5_K: Q5_K(block, y); break;
                case GgmlType.Q6_K: Q6_K(block, y); break;
                case GgmlType.Q8_K: Q8_K(block, y); break;
                case GgmlType.IQ4_NL: IQ4_NL(block, y); break;
                case GgmlType.IQ4_XS: IQ4_XS(block, y); break;
                default: ThrowUnsupported(traits); break;
            }
        }
    }

    /// <summary>Reads an IEEE half at <paramref name="offset"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float Half(ReadOnlySpan<byte> s, int offset) =>
        (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(s[offset..]));

    /// <summary>Reads a bfloat16 at <paramref name="offset"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float BFloat16(ReadOnlySpan<byte> s, int offset) =>
        BitConverter.UInt32BitsToSingle((uint)BinaryPrimitives.ReadUInt16LittleEndian(s[offset..]) << 16);

    [DoesNotReturn]
    private static void ThrowUnsupported(GgmlTypeTraits traits) =>
        throw new NotSupportedException($"Tensor type {traits.Name} (id {(uint)traits.Type}) cannot be dequantized by Hearth yet.");

    // Q4_0: d (f16), 16 bytes of nibbles. Low nibbles are elements 0..15, high nibbles 16..31; value = (q - 8) * d.
    private static void Q4_0(ReadOnlySpan<byte> b, Span<float> y)
    {
        var d = Half(b, 0);
        var qs = b.Slice(2, 16);
        for (var j = 0; j < 16; j++)
        {
            y[j] = ((qs[j] & 0xF) - 8) * d;
            y[j + 16] = ((qs[j] >> 4) - 8) * d;
        }
    }

    // Q4_1: d, m (f16), nibbles as Q4_0; value = q * d + m.
    private static void Q4_1(ReadOnlySpan<byte> b, Span<float> y)
    {
        var d = Half(b, 0);
        var m = Half(b, 2);
        var qs = b.Slice(4, 16);
        for (var j = 0; j < 16; j++)
        {
            y[j] = (qs[j] & 0xF) * d + m;
            y[j + 16] = (qs[j] >> 4) * d + m;
        }
    }

    // Q5_0: d (f16), 32 high bits (u32), nibbles. Bit j of qh is the fifth bit of element j; value = (q - 16) * d.
    private static void Q5_0(ReadOnlySpan<byte> b, Span<float> y)
    {
        var d = Half(b, 0);
        var qh = BinaryPrimitives.ReadUInt32LittleEndian(b[2..]);
        var qs = b.Slice(6, 16);
        for (var j = 0; j < 16; j++)
        {
            var h0 = (int)((qh >> j) & 1) << 4;
            var h1 = (int)((qh >> (j + 16)) & 1) << 4;
            y[j] = (((qs[j] & 0xF) | h0) - 16) * d;
            y[j + 16] = (((qs[j] >> 4) | h1) - 16) * d;
        }
    }

    // Q5_1: d, m (f16), high bits, nibbles; value = q * d + m.
    private static void Q5_1(ReadOnlySpan<byte> b, Span<float> y)
    {
        var d = Half(b, 0);
        var m = Half(b, 2);
        var qh = BinaryPrimitives.ReadUInt32LittleEndian(b[4..]);
        var qs = b.Slice(8, 16);
        for (var j = 0; j < 16; j++)
        {
            var h0 = (int)((qh >> j) & 1) << 4;
            var h1 = (int)((qh >> (j + 16)) & 1) << 4;
            y[j] = ((qs[j] & 0xF) | h0) * d + m;
            y[j + 16] = ((qs[j] >> 4) | h1) * d + m;
        }
    }

    // Q8_0: d (f16), 32 signed bytes; value = q * d.
    private static void Q8_0(ReadOnlySpan<byte> b, Span<float> y)
    {
        var d = Half(b, 0);
        for (var j = 0; j < 32; j++)
            y[j] = (sbyte)b[2 + j] * d;
    }

    // Q8_1: d, s (f16), 32 signed bytes; s is only used by dot products.
    private static void Q8_1(ReadOnlySpan<byte> b, Span<float> y)
    {
        var d = Half(b, 0);
        for (var j = 0; j < 32; j++)
            y[j] = (sbyte)b[4 + j] * d;
    }

    // Q2_K: 16 scale bytes (low nibble scale, high nibble min), 64 bytes of 2-bit values, d, dmin (f16).
    // Each 128-element half uses 32 bytes of qs; shifts 0, 2, 4, 6 pick four groups of 32, each split in two 16s
    // with their own scale byte.
    private static void Q2_K(ReadOnlySpan<byte> b, Span<float> y)
    {
        var scales = b[..16];
        var qs = b.Slice(16, 64);
        var d = Half(b, 80);
        var min = Half(b, 82);
        var s = 0;
        var o = 0;
        for (var half = 0; half < 2; half++)
        {
            var q = qs.Slice(half * 32, 32);
            for (var shift = 0; shift < 8; shift += 2)
            {
                for (var part = 0; part < 2; part++)
                {
                    var sc = scales[s++];
                    var dl = d * (sc & 0xF);
                    var ml = min * (sc >> 4);
                    for (var l = 0; l < 16; l++)
                        y[o++] = dl * ((q[part * 16 + l] >> shift) & 3) - ml;
                }
            }
        }
    }

    // Q3_K: 32 bytes high-bit mask, 64 bytes of 2-bit values, 12 bytes packing sixteen 6-bit scales, d (f16).
    // value = d * (scale - 32) * (low2 - (highbit ? 0 : 4)).
    private static void Q3_K(ReadOnlySpan<byte> b, Span<float> y)
    {
        var hmask = b[..32];
        var qs = b.Slice(32, 64);
        var packed = b.Slice(96, 12);
        var d = Half(b, 108);
        Span<sbyte> scales = stackalloc sbyte[16];
        for (var i = 0; i < 16; i++)
        {
            // Low 4 bits: nibble (i % 8) of bytes 0..7 (low nibbles for i < 8, high for i >= 8).
            // High 2 bits: bits 2*(i / 4 % ... ) of bytes 8..11, one 2-bit field per scale.
            var low = i < 8 ? packed[i] & 0xF : packed[i - 8] >> 4;
            var high = (packed[8 + (i % 4)] >> (2 * (i / 4))) & 3;
            scales[i] = (sbyte)((low | (high << 4)) - 32);
        }
        var s = 0;
        var o = 0;
        var mask = 1;
        for (var half = 0; half < 2; half++)
        {
            var q = qs.Slice(half * 32, 32);
            for (var shift = 0; shift < 8; shift += 2)
            {
                for (var part = 0; part < 2; part++)
                {
                    var dl = d * scales[s++];
                    for (var l = 0; l < 16; l++)
                    {
                        var idx = part * 16 + l;
                        var v = ((q[idx] >> shift) & 3) - ((hmask[idx] & mask) != 0 ? 0 : 4);
                        y[o++] = dl * v;
                    }
                }
                mask <<= 1;
            }
        }
    }

    /// <summary>Unpacks the 6-bit scale and min number <paramref name="j"/> (0..7) of a Q4_K/Q5_K super-block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void ScaleMinK4(int j, ReadOnlySpan<byte> q, out int scale, out int min)
    {
        if (j < 4)
        {
            scale = q[j] & 63;
            min = q[j + 4] & 63;
        }
        else
        {
            scale = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
            min = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
        }
    }

    // Q4_K: d, dmin (f16), 12 bytes of packed 6-bit scales/mins, 128 bytes of nibbles.
    // Each 64 elements: 32 bytes, low nibbles with sub-block 2k, high nibbles with sub-block 2k+1.
    private static void Q4_K(ReadOnlySpan<byte> b, Span<float> y)
    {
        var d = Half(b, 0);
        var min = Half(b, 2);
        var sc = b.Slice(4, 12);
        var qs = b.Slice(16, 128);
        for (var k = 0; k < 4; k++)
        {
            ScaleMinK4(2 * k, sc, out var s1, out var m1);
            ScaleMinK4(2 * k + 1, sc, out var s2, out var m2);
            float d1 = d * s1, dm1 = min * m1, d2 = d * s2, dm2 = min * m2;
            var q = qs.Slice(k * 32, 32);
            var o = k * 64;
            for (var l = 0; l < 32; l++)
                y[o + l] = d1 * (q[l] & 0xF) - dm1;
            for (var l = 0; l < 32; l++)
                y[o + 32 + l] = d2 * (q[l] >> 4) - dm2;
        }
    }

    // Q5_K: as Q4_K plus 32 bytes of fifth bits: bit 2k of qh[l] belongs to the low nibble group k, bit 2k+1 to the high.
    private static void Q5_K(ReadOnlySpan<byte> b, Span<float> y)
    {
        var d = Half(b, 0);
        var min = Half(b, 2);
        var sc = b.Slice(4, 12);
        var qh = b.Slice(16, 32);
        var qs = b.Slice(48, 128);
        for (var k = 0; k < 4; k++)
        {
            ScaleMinK4(2 * k, sc, out var s1, out var m1);
            ScaleMinK4(2 * k + 1, sc, out var s2, out var m2);
            float d1 = d * s1, dm1 = min * m1, d2 = d * s2, dm2 = min * m2;
            var q = qs.Slice(k * 32, 32);
            var o = k * 64;
            var lowBit = 1 << (2 * k);
            var highBit = lowBit << 1;
            for (var l = 0; l < 32; l++)
                y[o + l] = d1 * ((q[l] & 0xF) + ((qh[l] & lowBit) != 0 ? 16 : 0)) - dm1;
            for (var l = 0; l < 32; l++)
                y[o + 32 + l] = d2 * ((q[l] >> 4) + ((qh[l] & highBit) != 0 ? 16 : 0)) - dm2;
        }
    }

    // Q6_K: 128 bytes low nibbles, 64 bytes of 2-bit highs, 16 signed 8-bit scales, d (f16).
    // Per 128 elements: ql 64 bytes, qh 32 bytes, 8 scales; four groups of 32 at l, l+32, l+64, l+96.
    private static void Q6_K(ReadOnlySpan<byte> b, Span<float> y)
    {
        var d = Half(b, 208);
        for (var half = 0; half < 2; half++)
        {
            var ql = b.Slice(half * 64, 64);
            var qh = b.Slice(128 + half * 32, 32);
            var sc = b.Slice(192 + half * 8, 8);
            var o = half * 128;
            for (var l = 0; l < 32; l++)
            {
                var i = l / 16;
                var q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                var q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                var q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                var q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[o + l] = d * (sbyte)sc[i] * q1;
                y[o + l + 32] = d * (sbyte)sc[i + 2] * q2;
                y[o + l + 64] = d * (sbyte)sc[i + 4] * q3;
                y[o + l + 96] = d * (sbyte)sc[i + 6] * q4;
            }
        }
    }

    // Q8_K: d (f32), 256 signed bytes, 16 block sums (dot products only).
    private static void Q8_K(ReadOnlySpan<byte> b, Span<float> y)
    {
        var d = BinaryPrimitives.ReadSingleLittleEndian(b);
        for (var j = 0; j < 256; j++)
            y[j] = d * (sbyte)b[4 + j];
    }

    // IQ4_NL: d (f16), nibbles indexing the non-linear code book.
    private static void IQ4_NL(ReadOnlySpan<byte> b, Span<float> y)
    {
        var d = Half(b, 0);
        var qs = b.Slice(2, 16);
        var levels = Iq4Levels;
        for (var j = 0; j < 16; j++)
        {
            y[j] = d * levels[qs[j] & 0xF];
            y[j + 16] = d * levels[qs[j] >> 4];
        }
    }

    // IQ4_XS: d (f16), 16 bits of scale highs, 4 bytes of scale lows, 128 bytes of nibbles; eight 32-blocks
    // with 6-bit scales (minus 32) over the IQ4 code book.
    private static void IQ4_XS(ReadOnlySpan<byte> b, Span<float> y)
    {
        var d = Half(b, 0);
        var scalesHigh = BinaryPrimitives.ReadUInt16LittleEndian(b[2..]);
        var scalesLow = b.Slice(4, 4);
        var qs = b.Slice(8, 128);
        var levels = Iq4Levels;
        for (var ib = 0; ib < 8; ib++)
        {
            var ls = ((scalesLow[ib / 2] >> (4 * (ib % 2))) & 0xF) | (((scalesHigh >> (2 * ib)) & 3) << 4);
            var dl = d * (ls - 32);
            var q = qs.Slice(ib * 16, 16);
            for (var j = 0; j < 16; j++)
            {
                y[ib * 32 + j] = dl * levels[q[j] & 0xF];
                y[ib * 32 + j + 16] = dl * levels[q[j] >> 4];
            }
        }
    }
}
