using System.Globalization;

namespace Hearth.Gguf;

/// <summary>One metadata value: a number, a boolean, a string or an array, with its exact GGUF type.</summary>
public sealed class GgufValue
{
    private readonly ulong _bits;
    private readonly string? _string;
    private readonly GgufArray? _array;

    private GgufValue(GgufValueType type, ulong bits, string? text = null, GgufArray? array = null)
    {
        Type = type;
        _bits = bits;
        _string = text;
        _array = array;
    }

    /// <summary>The stored type.</summary>
    public GgufValueType Type { get; }

    /// <summary>Whether the value is an integer of any width.</summary>
    public bool IsInteger => Type is GgufValueType.UInt8 or GgufValueType.Int8 or GgufValueType.UInt16 or GgufValueType.Int16
        or GgufValueType.UInt32 or GgufValueType.Int32 or GgufValueType.UInt64 or GgufValueType.Int64;

    /// <summary>Creates a value of a fixed-size type from its raw little-endian bits (as read from a file).</summary>
    internal static GgufValue FromBits(GgufValueType type, ulong bits) => new(type, bits);

    /// <summary>An unsigned 8-bit value.</summary>
    public static GgufValue FromUInt8(byte value) => new(GgufValueType.UInt8, value);
    /// <summary>A signed 8-bit value.</summary>
    public static GgufValue FromInt8(sbyte value) => new(GgufValueType.Int8, (byte)value);
    /// <summary>An unsigned 16-bit value.</summary>
    public static GgufValue FromUInt16(ushort value) => new(GgufValueType.UInt16, value);
    /// <summary>A signed 16-bit value.</summary>
    public static GgufValue FromInt16(short value) => new(GgufValueType.Int16, (ushort)value);
    /// <summary>An unsigned 32-bit value.</summary>
    public static GgufValue FromUInt32(uint value) => new(GgufValueType.UInt32, value);
    /// <summary>A signed 32-bit value.</summary>
    public static GgufValue FromInt32(int value) => new(GgufValueType.Int32, (uint)value);
    /// <summary>An unsigned 64-bit value.</summary>
    public static GgufValue FromUInt64(ulong value) => new(GgufValueType.UInt64, value);
    /// <summary>A signed 64-bit value.</summary>
    public static GgufValue FromInt64(long value) => new(GgufValueType.Int64, (ulong)value);
    /// <summary>A 32-bit float.</summary>
    public static GgufValue FromSingle(float value) => new(GgufValueType.Float32, BitConverter.SingleToUInt32Bits(value));
    /// <summary>A 64-bit float.</summary>
    public static GgufValue FromDouble(double value) => new(GgufValueType.Float64, BitConverter.DoubleToUInt64Bits(value));
    /// <summary>A boolean.</summary>
    public static GgufValue FromBool(bool value) => new(GgufValueType.Bool, value ? 1UL : 0UL);

    /// <summary>A string.</summary>
    public static GgufValue FromString(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return new(GgufValueType.String, 0, text: value);
    }

    /// <summary>An array.</summary>
    public static GgufValue FromArray(GgufArray value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return new(GgufValueType.Array, 0, array: value);
    }

    /// <summary>The raw little-endian bits of a fixed-size value.</summary>
    internal ulong Bits => _bits;

    /// <summary>The string; throws when the value is not a string.</summary>
    public string AsString() => _string ?? throw Mismatch("a string");

    /// <summary>The array; throws when the value is not an array.</summary>
    public GgufArray AsArray() => _array ?? throw Mismatch("an array");

    /// <summary>The boolean; throws when the value is not a boolean.</summary>
    public bool AsBool() => Type == GgufValueType.Bool ? _bits != 0 : throw Mismatch("a boolean");

    /// <summary>Any integer type as a signed 64-bit value; throws for non-integers and for unsigned values above <see cref="long.MaxValue"/>.</summary>
    public long AsInt64() => Type switch
    {
        GgufValueType.UInt8 or GgufValueType.UInt16 or GgufValueType.UInt32 => (long)_bits,
        GgufValueType.Int8 => (sbyte)(byte)_bits,
        GgufValueType.Int16 => (short)(ushort)_bits,
        GgufValueType.Int32 => (int)(uint)_bits,
        GgufValueType.Int64 => (long)_bits,
        GgufValueType.UInt64 when _bits <= long.MaxValue => (long)_bits,
        GgufValueType.UInt64 => throw new InvalidOperationException($"GGUF value {_bits} does not fit a signed 64-bit integer."),
        _ => throw Mismatch("an integer"),
    };

    /// <summary>Any integer type as a signed 32-bit value; throws when out of range.</summary>
    public int AsInt32()
    {
        var v = AsInt64();
        return v is >= int.MinValue and <= int.MaxValue ? (int)v : throw new InvalidOperationException($"GGUF value {v} does not fit a 32-bit integer.");
    }

    /// <summary>Any integer or float type as a double.</summary>
    public double AsDouble() => Type switch
    {
        GgufValueType.Float32 => BitConverter.UInt32BitsToSingle((uint)_bits),
        GgufValueType.Float64 => BitConverter.UInt64BitsToDouble(_bits),
        GgufValueType.UInt64 => _bits,
        _ when IsInteger => AsInt64(),
        _ => throw Mismatch("a number"),
    };

    /// <summary>Any number as a float (a Float32 value is returned exactly).</summary>
    public float AsSingle() => Type == GgufValueType.Float32 ? BitConverter.UInt32BitsToSingle((uint)_bits) : (float)AsDouble();

    /// <inheritdoc />
    public override string ToString() => Type switch
    {
        GgufValueType.String => _string!,
        GgufValueType.Array => _array!.ToString(),
        GgufValueType.Bool => _bits != 0 ? "true" : "false",
        GgufValueType.Float32 => AsSingle().ToString("R", CultureInfo.InvariantCulture),
        GgufValueType.Float64 => AsDouble().ToString("R", CultureInfo.InvariantCulture),
        GgufValueType.UInt64 => _bits.ToString(CultureInfo.InvariantCulture),
        _ => AsInt64().ToString(CultureInfo.InvariantCulture),
    };

    private InvalidOperationException Mismatch(string expected) => new($"GGUF value of type {Type} is not {expected}.");
}

/// <summary>A metadata key, its value, and where it was found.</summary>
/// <param name="Key">The key, e.g. <c>general.architecture</c>.</param>
/// <param name="Value">The value.</param>
/// <param name="Offset">Byte offset of the key in the file (0 for entries built in memory).</param>
public sealed record GgufKeyValue(string Key, GgufValue Value, long Offset = 0);
