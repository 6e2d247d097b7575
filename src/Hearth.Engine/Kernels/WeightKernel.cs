using Hearth.Gguf;

namespace Hearth.Engine.Kernels;

/// <summary>
/// One row of the kernel traits table (ggml's <c>type_traits_cpu</c>): for a weight type, the activation
/// type it is multiplied with and its dot kernels — the reference one and the fastest one this CPU runs.
/// </summary>
internal sealed unsafe class WeightKernel
{
    private static readonly Dictionary<GgmlType, WeightKernel> ByType = Build();

    private WeightKernel(GgmlType type, ActivationType activation,
        delegate*<byte*, byte*, int, float> reference, delegate*<byte*, byte*, int, float> fast, bool hasFast)
    {
        Type = type;
        Activation = activation;
        Reference = reference;
        Fast = fast;
        HasFastPath = hasFast;
        var traits = GgmlTypeTraits.Get(type);
        BlockSize = traits.BlockSize;
        // ggml's vec-dot types: q8_0 and q8_1 blocks are 32 wide, q8_K 256; the row must be whole activation blocks too.
        ActivationBlockSize = activation switch
        {
            ActivationType.Q8_0 or ActivationType.Q8_1 => 32,
            ActivationType.Q8_K => 256,
            _ => 1,
        };
    }

    /// <summary>The weight type.</summary>
    public GgmlType Type { get; }

    /// <summary>What activations are converted to before the dot product.</summary>
    public ActivationType Activation { get; }

    /// <summary>Elements per weight block.</summary>
    public int BlockSize { get; }

    /// <summary>Elements per activation block.</summary>
    public int ActivationBlockSize { get; }

    /// <summary>Scalar reference dot (weight row, activation row, element count).</summary>
    public delegate*<byte*, byte*, int, float> Reference { get; }

    /// <summary>The dot kernel used for inference: SIMD where available, else the reference.</summary>
    public delegate*<byte*, byte*, int, float> Fast { get; }

    /// <summary>Whether <see cref="Fast"/> is a SIMD kernel distinct from the reference.</summary>
    public bool HasFastPath { get; }

    /// <summary>
    /// Optional prompt-batch kernel: one weight row against four activation rows (weight row, first activation row,
    /// byte stride between activation rows, element count, four results). Bit-identical to four <see cref="Fast"/>
    /// calls; null where the type has none (the batch path then calls <see cref="Fast"/> per token).
    /// </summary>
    public delegate*<byte*, byte*, nint, int, float*, void> Multi4 { get; private init; }

    /// <summary>
    /// Optional generation kernel: two consecutive weight rows against one activation row (first row, byte stride
    /// between rows, activation row, element count, two results), sharing the activation loads. Bit-identical to two
    /// <see cref="Fast"/> calls; null where the type has none.
    /// </summary>
    public delegate*<byte*, nint, byte*, int, float*, void> Rows2 { get; private init; }

    /// <summary>Weight types the engine can multiply with.</summary>
    public static IEnumerable<GgmlType> SupportedTypes => ByType.Keys;

    /// <summary>The kernel row for <paramref name="type"/>, or null when the engine cannot multiply with it.</summary>
    public static WeightKernel? TryGet(GgmlType type) => ByType.GetValueOrDefault(type);

    private static Dictionary<GgmlType, WeightKernel> Build()
    {
        var simd = DotAvx2.IsSupported;
        var rows = new List<WeightKernel>();
        // The four-token (prompt) and two-row (generation) kernels come with the SIMD path or not at all.
        void Add(GgmlType t, ActivationType act, delegate*<byte*, byte*, int, float> reference, delegate*<byte*, byte*, int, float> fast,
            delegate*<byte*, byte*, nint, int, float*, void> multi4 = null, delegate*<byte*, nint, byte*, int, float*, void> rows2 = null) =>
            rows.Add(new WeightKernel(t, act, reference, simd && fast != null ? fast : reference, simd && fast != null)
            {
                Multi4 = simd ? multi4 : null,
                Rows2 = simd ? rows2 : null,
            });

        Add(GgmlType.F32, ActivationType.F32, &DotReference.F32, &DotAvx2.F32);
        Add(GgmlType.F16, ActivationType.F16, &DotReference.F16, null);
        Add(GgmlType.BF16, ActivationType.BF16, &DotReference.BF16, null);
        Add(GgmlType.Q4_0, ActivationType.Q8_0, &DotReference.Q4_0, &DotAvx2.Q4_0);
        Add(GgmlType.Q4_1, ActivationType.Q8_1, &DotReference.Q4_1, &DotAvx2.Q4_1);
        Add(GgmlType.Q5_0, ActivationType.Q8_0, &DotReference.Q5_0, &DotAvx2.Q5_0);
        Add(GgmlType.Q5_1, ActivationType.Q8_1, &DotReference.Q5_1, &DotAvx2.Q5_1);
        Add(GgmlType.Q8_0, ActivationType.Q8_0, &DotReference.Q8_0, &DotAvx2.Q8_0, &DotAvx2.Q8_0x4);
        Add(GgmlType.IQ4_NL, ActivationType.Q8_0, &DotReference.IQ4_NL, &DotAvx2.IQ4_NL);
        Add(GgmlType.Q2_K, ActivationType.Q8_K, &DotReference.Q2_K, &DotAvx2.Q2_K);
        Add(GgmlType.Q3_K, ActivationType.Q8_K, &DotReference.Q3_K, &DotAvx2.Q3_K);
        Add(GgmlType.Q4_K, ActivationType.Q8_K, &DotReference.Q4_K, &DotAvx2.Q4_K, &DotAvx2.Q4_Kx4, &DotAvx2.Q4_Kr2);
        Add(GgmlType.Q5_K, ActivationType.Q8_K, &DotReference.Q5_K, &DotAvx2.Q5_K);
        Add(GgmlType.Q6_K, ActivationType.Q8_K, &DotReference.Q6_K, &DotAvx2.Q6_K, &DotAvx2.Q6_Kx4, &DotAvx2.Q6_Kr2);
        Add(GgmlType.IQ4_XS, ActivationType.Q8_K, &DotReference.IQ4_XS, &DotAvx2.IQ4_XS);
        var byType = rows.ToDictionary(r => r.Type);
        return byType;
    }
}
