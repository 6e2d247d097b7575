using Hearth.Gguf;

namespace Hearth.Factory;

/// <summary>
/// A target for <c>hearth factory quantize</c>: llama.cpp's file types (<c>llama_ftype</c>), by the names
/// <c>llama-quantize</c> accepts. <see cref="Id"/> is the value written to <c>general.file_type</c>;
/// <see cref="DefaultType"/> the tensor type most weights get before the mix rules adjust them.
/// </summary>
/// <param name="Name">The name as llama-quantize spells it (Q4_K_M, Q8_0, F16...).</param>
/// <param name="Id">llama_ftype value.</param>
/// <param name="DefaultType">Tensor type of ordinary 2-D weights.</param>
/// <param name="Description">One line for help and errors.</param>
internal sealed record QuantizeFileType(string Name, int Id, GgmlType DefaultType, string Description)
{
    public static QuantizeFileType F32 { get; } = new("F32", 0, GgmlType.F32, "32-bit float (copy, no quantization)");
    public static QuantizeFileType F16 { get; } = new("F16", 1, GgmlType.F16, "16-bit float");
    public static QuantizeFileType BF16 { get; } = new("BF16", 32, GgmlType.BF16, "bfloat16");
    public static QuantizeFileType Q4_0 { get; } = new("Q4_0", 2, GgmlType.Q4_0, "4-bit, one scale per 32");
    public static QuantizeFileType Q4_1 { get; } = new("Q4_1", 3, GgmlType.Q4_1, "4-bit, scale and minimum per 32");
    public static QuantizeFileType Q5_0 { get; } = new("Q5_0", 8, GgmlType.Q5_0, "5-bit, one scale per 32");
    public static QuantizeFileType Q5_1 { get; } = new("Q5_1", 9, GgmlType.Q5_1, "5-bit, scale and minimum per 32");
    public static QuantizeFileType Q8_0 { get; } = new("Q8_0", 7, GgmlType.Q8_0, "8-bit, one scale per 32");
    public static QuantizeFileType Q2_K { get; } = new("Q2_K", 10, GgmlType.Q2_K, "2-bit k-quant mix");
    public static QuantizeFileType Q3_K_S { get; } = new("Q3_K_S", 11, GgmlType.Q3_K, "3-bit k-quant, small");
    public static QuantizeFileType Q3_K_M { get; } = new("Q3_K_M", 12, GgmlType.Q3_K, "3-bit k-quant mix, medium");
    public static QuantizeFileType Q3_K_L { get; } = new("Q3_K_L", 13, GgmlType.Q3_K, "3-bit k-quant mix, large");
    public static QuantizeFileType Q4_K_S { get; } = new("Q4_K_S", 14, GgmlType.Q4_K, "4-bit k-quant mix, small");
    public static QuantizeFileType Q4_K_M { get; } = new("Q4_K_M", 15, GgmlType.Q4_K, "4-bit k-quant mix, medium");
    public static QuantizeFileType Q5_K_S { get; } = new("Q5_K_S", 16, GgmlType.Q5_K, "5-bit k-quant, small");
    public static QuantizeFileType Q5_K_M { get; } = new("Q5_K_M", 17, GgmlType.Q5_K, "5-bit k-quant mix, medium");
    public static QuantizeFileType Q6_K { get; } = new("Q6_K", 18, GgmlType.Q6_K, "6-bit k-quant");

    /// <summary>Every type, in the order help lists them.</summary>
    public static IReadOnlyList<QuantizeFileType> All { get; } =
        [Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K_S, Q3_K_M, Q3_K_L, Q4_K_S, Q4_K_M, Q5_K_S, Q5_K_M, Q6_K, F16, BF16, F32];

    // llama-quantize's short names for the medium mixes.
    private static readonly Dictionary<string, QuantizeFileType> Aliases = new(StringComparer.OrdinalIgnoreCase)
    {
        ["Q3_K"] = Q3_K_M,
        ["Q4_K"] = Q4_K_M,
        ["Q5_K"] = Q5_K_M,
    };

    /// <summary>All accepted names, for error messages.</summary>
    public static string ValidNames => string.Join(", ", All.Select(t => t.Name).Concat(Aliases.Keys));

    /// <summary>Looks a name up case-insensitively (Q3_K, Q4_K, Q5_K mean the _M mixes, as in llama-quantize).</summary>
    public static bool TryParse(string? name, out QuantizeFileType type)
    {
        type = null!;
        if (string.IsNullOrWhiteSpace(name))
            return false;
        name = name.Trim();
        if (Aliases.TryGetValue(name, out var alias))
        {
            type = alias;
            return true;
        }
        foreach (var t in All)
        {
            if (string.Equals(t.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                type = t;
                return true;
            }
        }
        return false;
    }

    /// <summary>Parses a name or throws an <see cref="ArgumentException"/> that lists the valid ones.</summary>
    public static QuantizeFileType Parse(string? name) => TryParse(name, out var t)
        ? t
        : throw new ArgumentException($"Unknown quantization type '{name}'. Valid types: {ValidNames}.", nameof(name));

    /// <summary>Whether tensors may become quantized block types (and the mix rules apply).</summary>
    public bool IsQuantized => GgmlTypeTraits.Get(DefaultType).IsQuantized;

    /// <inheritdoc/>
    public override string ToString() => Name;
}
