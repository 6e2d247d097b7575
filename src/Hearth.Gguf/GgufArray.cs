using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace Hearth.Gguf;

/// <summary>
/// A typed GGUF array. Arrays read from a file stay in the file's mapping (nothing is copied
/// until an element is asked for); numeric arrays can be viewed as spans in place.
/// </summary>
public sealed class GgufArray
{
    private readonly ReadOnlyMemory<byte> _raw;
    private int[]? _offsets; // element start offsets for string and array elements, built on first use

    internal GgufArray(GgufValueType elementType, int count, ReadOnlyMemory<byte> raw)
    {
        ElementType = elementType;
        Count = count;
        _raw = raw;
    }

    /// <summary>The type of every element.</summary>
    public GgufValueType ElementType { get; }

    /// <summary>Number of elements.</summary>
    public int Count { get; }

    /// <summary>The encoded elements, exactly as stored in the file (little-endian).</summary>
    public ReadOnlySpan<byte> RawBytes => _raw.Span;

    /// <summary>
    /// Views a fixed-size numeric array in place. <typeparamref name="T"/> must have the element's size
    /// (<c>float</c> for Float32, <c>int</c>/<c>uint</c> for Int32/UInt32, <c>byte</c> for UInt8/Bool...).
    /// </summary>
    public ReadOnlySpan<T> AsSpan<T>() where T : unmanaged
    {
        var size = GgufValueTypes.FixedSize(ElementType);
        if (size == 0 || size != Marshal.SizeOf<T>())
            throw new InvalidOperationException($"A GGUF array of {ElementType} cannot be viewed as {typeof(T).Name}.");
        return MemoryMarshal.Cast<byte, T>(_raw.Span);
    }

    /// <summary>Reads integer element <paramref name="index"/> of any integer element type as a 64-bit value.</summary>
    public long GetInt64(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
        var s = _raw.Span;
        return ElementType switch
        {
            GgufValueType.UInt8 or GgufValueType.Bool => s[index],
            GgufValueType.Int8 => (sbyte)s[index],
            GgufValueType.UInt16 => BinaryPrimitives.ReadUInt16LittleEndian(s[(index * 2)..]),
            GgufValueType.Int16 => BinaryPrimitives.ReadInt16LittleEndian(s[(index * 2)..]),
            GgufValueType.UInt32 => BinaryPrimitives.ReadUInt32LittleEndian(s[(index * 4)..]),
            GgufValueType.Int32 => BinaryPrimitives.ReadInt32LittleEndian(s[(index * 4)..]),
            GgufValueType.Int64 => BinaryPrimitives.ReadInt64LittleEndian(s[(index * 8)..]),
            GgufValueType.UInt64 => ToInt64(BinaryPrimitives.ReadUInt64LittleEndian(s[(index * 8)..]), index),
            _ => throw new InvalidOperationException($"A GGUF array of {ElementType} has no integer elements."),
        };
    }

    private static long ToInt64(ulong value, int index) => value <= long.MaxValue
        ? (long)value
        : throw new InvalidOperationException($"GGUF array element {index} ({value}) does not fit a signed 64-bit integer.");

    /// <summary>The UTF-8 bytes of string element <paramref name="index"/>, in place.</summary>
    public ReadOnlySpan<byte> GetStringBytes(int index)
    {
        RequireElementType(GgufValueType.String);
        var start = ElementOffset(index);
        var span = _raw.Span;
        var length = (int)BinaryPrimitives.ReadUInt64LittleEndian(span[start..]);
        return span.Slice(start + 8, length);
    }

    /// <summary>String element <paramref name="index"/>, decoded from UTF-8.</summary>
    public string GetString(int index) => Encoding.UTF8.GetString(GetStringBytes(index));

    /// <summary>All string elements, decoded.</summary>
    public string[] GetStrings()
    {
        RequireElementType(GgufValueType.String);
        var result = new string[Count];
        for (var i = 0; i < Count; i++)
            result[i] = GetString(i);
        return result;
    }

    /// <summary>Nested array element <paramref name="index"/>.</summary>
    public GgufArray GetArray(int index)
    {
        RequireElementType(GgufValueType.Array);
        var start = ElementOffset(index);
        var span = _raw.Span;
        var type = (GgufValueType)BinaryPrimitives.ReadUInt32LittleEndian(span[start..]);
        var count = (int)BinaryPrimitives.ReadUInt64LittleEndian(span[(start + 4)..]);
        var length = EncodedPayloadLength(type, count, span[(start + 12)..]);
        return new GgufArray(type, count, _raw.Slice(start + 12, length));
    }

    /// <summary>Creates an array of fixed-size numbers; <typeparamref name="T"/> must match <paramref name="elementType"/>'s size.</summary>
    public static GgufArray Create<T>(GgufValueType elementType, ReadOnlySpan<T> values) where T : unmanaged
    {
        var size = GgufValueTypes.FixedSize(elementType);
        if (size == 0 || size != Marshal.SizeOf<T>())
            throw new ArgumentException($"{typeof(T).Name} does not match GGUF element type {elementType}.", nameof(values));
        return new GgufArray(elementType, values.Length, MemoryMarshal.AsBytes(values).ToArray());
    }

    /// <summary>Creates an array of strings.</summary>
    public static GgufArray Create(IReadOnlyList<string> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var buffer = new ArrayBufferWriter<byte>();
        foreach (var s in values)
        {
            ArgumentNullException.ThrowIfNull(s, nameof(values));
            var bytes = Encoding.UTF8.GetBytes(s);
            BinaryPrimitives.WriteUInt64LittleEndian(buffer.GetSpan(8), (ulong)bytes.Length);
            buffer.Advance(8);
            buffer.Write(bytes);
        }
        return new GgufArray(GgufValueType.String, values.Count, buffer.WrittenMemory);
    }

    /// <summary>Creates an array of arrays.</summary>
    public static GgufArray Create(IReadOnlyList<GgufArray> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var buffer = new ArrayBufferWriter<byte>();
        foreach (var a in values)
        {
            ArgumentNullException.ThrowIfNull(a, nameof(values));
            var head = buffer.GetSpan(12);
            BinaryPrimitives.WriteUInt32LittleEndian(head, (uint)a.ElementType);
            BinaryPrimitives.WriteUInt64LittleEndian(head[4..], (ulong)a.Count);
            buffer.Advance(12);
            buffer.Write(a.RawBytes);
        }
        return new GgufArray(GgufValueType.Array, values.Count, buffer.WrittenMemory);
    }

    /// <inheritdoc />
    public override string ToString() => $"[{ElementType} x {Count}]";

    private void RequireElementType(GgufValueType type)
    {
        if (ElementType != type)
            throw new InvalidOperationException($"A GGUF array of {ElementType} has no {type} elements.");
    }

    private int ElementOffset(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
        var offsets = _offsets ??= BuildOffsets();
        return offsets[index];
    }

    private int[] BuildOffsets()
    {
        // The reader validated the encoding when the file was opened, so lengths are in range here.
        var span = _raw.Span;
        var offsets = new int[Count];
        var pos = 0;
        for (var i = 0; i < Count; i++)
        {
            offsets[i] = pos;
            if (ElementType == GgufValueType.String)
            {
                pos += 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(span[pos..]);
            }
            else
            {
                var type = (GgufValueType)BinaryPrimitives.ReadUInt32LittleEndian(span[pos..]);
                var count = (int)BinaryPrimitives.ReadUInt64LittleEndian(span[(pos + 4)..]);
                pos += 12 + EncodedPayloadLength(type, count, span[(pos + 12)..]);
            }
        }
        return offsets;
    }

    /// <summary>Byte length of <paramref name="count"/> encoded elements of <paramref name="type"/> at the start of <paramref name="data"/> (already validated).</summary>
    private static int EncodedPayloadLength(GgufValueType type, int count, ReadOnlySpan<byte> data)
    {
        var size = GgufValueTypes.FixedSize(type);
        if (size != 0)
            return size * count;
        var pos = 0;
        for (var i = 0; i < count; i++)
        {
            if (type == GgufValueType.String)
            {
                pos += 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(data[pos..]);
            }
            else
            {
                var inner = (GgufValueType)BinaryPrimitives.ReadUInt32LittleEndian(data[pos..]);
                var innerCount = (int)BinaryPrimitives.ReadUInt64LittleEndian(data[(pos + 4)..]);
                pos += 12 + EncodedPayloadLength(inner, innerCount, data[(pos + 12)..]);
            }
        }
        return pos;
    }
}
