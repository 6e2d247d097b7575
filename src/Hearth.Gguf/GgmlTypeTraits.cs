using System.Diagnostics.CodeAnalysis;

namespace Hearth.Gguf;

/// <summary>One row of facts about a <see cref="GgmlType"/>: how its elements are packed.</summary>
/// <param name="Type">The type.</param>
/// <param name="Name">ggml's lower-case name (<c>q4_K</c>, <c>f16</c>...).</param>
/// <param name="BlockSize">Elements per block (1 for plain types).</param>
/// <param name="TypeSize">Bytes per block.</param>
/// <param name="IsQuantized">Whether values are stored in quantized blocks.</param>
/// <param name="CanDequantize">Whether Hearth can convert the type to float32.</param>
public sealed record GgmlTypeTraits(GgmlType Type, string Name, int BlockSize, int TypeSize, bool IsQuantized, bool CanDequantize)
{
    private static readonly Dictionary<uint, GgmlTypeTraits> ById = Build();

    /// <summary>All known types, in id order.</summary>
    public static IReadOnlyCollection<GgmlTypeTraits> All => ById.Values;

    /// <summary>Bytes needed for <paramref name="elements"/> values of this type; <paramref name="elements"/> must be a multiple of <see cref="BlockSize"/>.</summary>
    public long RowBytes(long elements) => checked(elements / BlockSize * TypeSize);

    /// <summary>Returns the traits for <paramref name="type"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not a known ggml type id.</exception>
    public static GgmlTypeTraits Get(GgmlType type) =>
        ById.TryGetValue((uint)type, out var traits) ? traits : ThrowUnknown(type);

    /// <summary>Looks up a type id as read from a file.</summary>
    public static bool TryGet(uint id, [NotNullWhen(true)] out GgmlTypeTraits? traits) => ById.TryGetValue(id, out traits);

    /// <summary>Looks up a type by ggml's name, case-insensitively (<c>Q4_K</c>, <c>q4_k</c>, <c>bf16</c>).</summary>
    public static bool TryParse(string name, [NotNullWhen(true)] out GgmlTypeTraits? traits)
    {
        foreach (var t in ById.Values)
        {
            if (string.Equals(t.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                traits = t;
                return true;
            }
        }
        traits = null;
        return false;
    }

    [DoesNotReturn]
    private static GgmlTypeTraits ThrowUnknown(GgmlType type) =>
        throw new ArgumentOutOfRangeException(nameof(type), (uint)type, $"Unknown ggml type id {(uint)type}.");

    private static Dictionary<uint, GgmlTypeTraits> Build()
    {
        // Block layouts (bytes): see GgmlBlocks for the field order of each quantized type.
        GgmlTypeTraits[] rows =
        [
            new(GgmlType.F32, "f32", 1, 4, false, true),
            new(GgmlType.F16, "f16", 1, 2, false, true),
            new(GgmlType.Q4_0, "q4_0", 32, 2 + 16, true, true),
            new(GgmlType.Q4_1, "q4_1", 32, 2 + 2 + 16, true, true),
            new(GgmlType.Q5_0, "q5_0", 32, 2 + 4 + 16, true, true),
            new(GgmlType.Q5_1, "q5_1", 32, 2 + 2 + 4 + 16, true, true),
            new(GgmlType.Q8_0, "q8_0", 32, 2 + 32, true, true),
            new(GgmlType.Q8_1, "q8_1", 32, 2 + 2 + 32, true, true),
            new(GgmlType.Q2_K, "q2_K", 256, 16 + 64 + 2 + 2, true, true),
            new(GgmlType.Q3_K, "q3_K", 256, 32 + 64 + 12 + 2, true, true),
            new(GgmlType.Q4_K, "q4_K", 256, 2 + 2 + 12 + 128, true, true),
            new(GgmlType.Q5_K, "q5_K", 256, 2 + 2 + 12 + 32 + 128, true, true),
            new(GgmlType.Q6_K, "q6_K", 256, 128 + 64 + 16 + 2, true, true),
            new(GgmlType.Q8_K, "q8_K", 256, 4 + 256 + 32, true, true),
            new(GgmlType.IQ2_XXS, "iq2_xxs", 256, 2 + 64, true, false),
            new(GgmlType.IQ2_XS, "iq2_xs", 256, 2 + 64 + 8, true, false),
            new(GgmlType.IQ3_XXS, "iq3_xxs", 256, 2 + 96, true, false),
            new(GgmlType.IQ1_S, "iq1_s", 256, 2 + 32 + 16, true, false),
            new(GgmlType.IQ4_NL, "iq4_nl", 32, 2 + 16, true, true),
            new(GgmlType.IQ3_S, "iq3_s", 256, 2 + 64 + 8 + 32 + 4, true, false),
            new(GgmlType.IQ2_S, "iq2_s", 256, 2 + 64 + 8 + 8, true, false),
            new(GgmlType.IQ4_XS, "iq4_xs", 256, 2 + 2 + 4 + 128, true, true),
            new(GgmlType.I8, "i8", 1, 1, false, false),
            new(GgmlType.I16, "i16", 1, 2, false, false),
            new(GgmlType.I32, "i32", 1, 4, false, false),
            new(GgmlType.I64, "i64", 1, 8, false, false),
            new(GgmlType.F64, "f64", 1, 8, false, false),
            new(GgmlType.IQ1_M, "iq1_m", 256, 32 + 16 + 8, true, false),
            new(GgmlType.BF16, "bf16", 1, 2, false, true),
            new(GgmlType.TQ1_0, "tq1_0", 256, 48 + 4 + 2, true, false),
            new(GgmlType.TQ2_0, "tq2_0", 256, 64 + 2, true, false),
            new(GgmlType.MXFP4, "mxfp4", 32, 1 + 16, true, false),
        ];
        return rows.ToDictionary(r => (uint)r.Type);
    }
}
