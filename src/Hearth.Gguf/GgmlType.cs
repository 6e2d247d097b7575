namespace Hearth.Gguf;

// Member names mirror ggml's type names (Q4_K, IQ2_XXS) so they match every tool's output and documentation.
#pragma warning disable CA1707

/// <summary>
/// Tensor element types, with the numeric ids ggml writes into GGUF files.
/// Ids 4, 5, 31–33 and 36–38 were used by formats ggml has since removed; they are not listed.
/// </summary>
public enum GgmlType : uint
{
    /// <summary>32-bit IEEE float.</summary>
    F32 = 0,
    /// <summary>16-bit IEEE half float.</summary>
    F16 = 1,
    /// <summary>4-bit, blocks of 32, one fp16 scale.</summary>
    Q4_0 = 2,
    /// <summary>4-bit, blocks of 32, fp16 scale and minimum.</summary>
    Q4_1 = 3,
    /// <summary>5-bit, blocks of 32, one fp16 scale.</summary>
    Q5_0 = 6,
    /// <summary>5-bit, blocks of 32, fp16 scale and minimum.</summary>
    Q5_1 = 7,
    /// <summary>8-bit, blocks of 32, one fp16 scale.</summary>
    Q8_0 = 8,
    /// <summary>8-bit, blocks of 32, fp16 scale and fp16 scaled sum (activations only).</summary>
    Q8_1 = 9,
    /// <summary>2-bit k-quant, super-blocks of 256.</summary>
    Q2_K = 10,
    /// <summary>3-bit k-quant, super-blocks of 256.</summary>
    Q3_K = 11,
    /// <summary>4-bit k-quant, super-blocks of 256.</summary>
    Q4_K = 12,
    /// <summary>5-bit k-quant, super-blocks of 256.</summary>
    Q5_K = 13,
    /// <summary>6-bit k-quant, super-blocks of 256.</summary>
    Q6_K = 14,
    /// <summary>8-bit k-quant with float32 scale and block sums (activations only).</summary>
    Q8_K = 15,
    /// <summary>i-quant, 2.06 bits per weight.</summary>
    IQ2_XXS = 16,
    /// <summary>i-quant, 2.31 bits per weight.</summary>
    IQ2_XS = 17,
    /// <summary>i-quant, 3.06 bits per weight.</summary>
    IQ3_XXS = 18,
    /// <summary>i-quant, 1.56 bits per weight.</summary>
    IQ1_S = 19,
    /// <summary>4-bit non-linear, blocks of 32.</summary>
    IQ4_NL = 20,
    /// <summary>i-quant, 3.44 bits per weight.</summary>
    IQ3_S = 21,
    /// <summary>i-quant, 2.5 bits per weight.</summary>
    IQ2_S = 22,
    /// <summary>4-bit non-linear with 6-bit sub-block scales, super-blocks of 256.</summary>
    IQ4_XS = 23,
    /// <summary>8-bit signed integer.</summary>
    I8 = 24,
    /// <summary>16-bit signed integer.</summary>
    I16 = 25,
    /// <summary>32-bit signed integer.</summary>
    I32 = 26,
    /// <summary>64-bit signed integer.</summary>
    I64 = 27,
    /// <summary>64-bit IEEE float.</summary>
    F64 = 28,
    /// <summary>i-quant, 1.75 bits per weight.</summary>
    IQ1_M = 29,
    /// <summary>bfloat16.</summary>
    BF16 = 30,
    /// <summary>Ternary, 1.69 bits per weight.</summary>
    TQ1_0 = 34,
    /// <summary>Ternary, 2.06 bits per weight.</summary>
    TQ2_0 = 35,
    /// <summary>Microscaling FP4, blocks of 32 with a shared E8M0 exponent.</summary>
    MXFP4 = 39,
}
