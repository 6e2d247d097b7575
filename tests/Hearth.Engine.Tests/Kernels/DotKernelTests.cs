using System.Text.Json;
using Hearth.Engine.Kernels;
using Hearth.Gguf;
using Hearth.Tests.Shared;

namespace Hearth.Engine.Tests.Kernels;

/// <summary>
/// Dot kernels: activation conversion byte-identical to ggml, reference and SIMD dots equal to ggml's
/// vec_dot results (quant-kernels/quant_vectors.json), and SIMD == reference over many lengths and seeds.
/// Tolerance: float accumulation order differs, so 2e-6 of Σ|wᵢ·aᵢ| (the scale of the rounding error).
/// </summary>
public sealed unsafe class DotKernelTests
{
    private static readonly Lazy<JsonDocument> Vectors = new(() =>
        JsonDocument.Parse(File.ReadAllBytes(Fixtures.File("quant-kernels", "quant_vectors.json"))));

    public static TheoryData<string> GgmlTypes => new()
    {
        "f16", "bf16", "q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "q2_K", "q3_K", "q4_K", "q5_K", "q6_K", "iq4_nl", "iq4_xs",
    };

    [Theory]
    [MemberData(nameof(GgmlTypes))]
    public void ActivationConversionIsByteIdenticalToGgml(string typeName)
    {
        var (_, entry, activation) = Entry(typeName);
        var kernel = KernelFor(typeName);
        var expected = Convert.FromBase64String(entry.GetProperty("activation_quantized_b64").GetString()!);
        Assert.Equal(entry.GetProperty("vec_dot_type").GetString(), ActivationName(kernel.Activation));
        var actual = Quantize(kernel.Activation, activation);
        Assert.Equal(expected, actual);
    }

    [Theory]
    [MemberData(nameof(GgmlTypes))]
    public void DotsMatchGgmlVecDot(string typeName)
    {
        var (root, entry, activation) = Entry(typeName);
        var kernel = KernelFor(typeName);
        var n = root.GetProperty("n_per_row").GetInt32();
        var rows = root.GetProperty("nrows").GetInt32();
        var weights = Convert.FromBase64String(entry.GetProperty("quantized_b64").GetString()!);
        var act = Quantize(kernel.Activation, activation);
        var rowBytes = weights.Length / rows;
        var expected = entry.GetProperty("dot").EnumerateArray().Select(x => x.GetSingle()).ToArray();
        var dequant = ReferenceVectors.Base64Floats(entry.GetProperty("dequantized_f32le_b64").GetString()!);
        fixed (byte* w = weights)
        fixed (byte* a = act)
        {
            for (var r = 0; r < rows; r++)
            {
                var scale = 0.0;
                for (var i = 0; i < n; i++)
                    scale += Math.Abs(dequant[r * n + i] * activation[i]);
                var tol = (float)(2e-6 * scale) + 1e-6f;
                var reference = kernel.Reference(w + r * rowBytes, a, n);
                var fast = kernel.Fast(w + r * rowBytes, a, n);
                Assert.True(Math.Abs(reference - expected[r]) <= tol, $"{typeName} row {r}: reference {reference} vs ggml {expected[r]} (tol {tol})");
                Assert.True(Math.Abs(fast - expected[r]) <= tol, $"{typeName} row {r}: fast {fast} vs ggml {expected[r]} (tol {tol})");
            }
        }
    }

    public static TheoryData<GgmlType> FastTypes()
    {
        var data = new TheoryData<GgmlType>();
        foreach (var t in WeightKernel.SupportedTypes.Order())
        {
            if (WeightKernel.TryGet(t)!.HasFastPath)
                data.Add(t);
        }
        if (data.Count == 0)
            data.Add(GgmlType.Q8_0); // no AVX2 + FMA here: the test then checks the fast path is absent (an empty theory fails)
        return data;
    }

    [Fact]
    public void SimdKernelsExistForTheCommonTypes()
    {
        foreach (var t in (GgmlType[])[GgmlType.F32, GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K, GgmlType.IQ4_NL, GgmlType.IQ4_XS])
            Assert.Equal(DotAvx2.IsSupported, WeightKernel.TryGet(t)!.HasFastPath);
        foreach (var t in (GgmlType[])[GgmlType.Q8_0, GgmlType.Q4_K, GgmlType.Q6_K])
            Assert.Equal(DotAvx2.IsSupported, WeightKernel.TryGet(t)!.Multi4 != null);
        foreach (var t in (GgmlType[])[GgmlType.Q4_K, GgmlType.Q6_K])
            Assert.Equal(DotAvx2.IsSupported, WeightKernel.TryGet(t)!.Rows2 != null);
    }

    [Theory]
    [MemberData(nameof(FastTypes))]
    public void FastPathMatchesReferenceOverLengthsAndSeeds(GgmlType type)
    {
        var kernel = WeightKernel.TryGet(type)!;
        if (!kernel.HasFastPath)
        {
            Assert.False(DotAvx2.IsSupported, $"{type} has no fast path on a SIMD machine");
            return;
        }
        var traits = GgmlTypeTraits.Get(type);
        var block = Math.Max(traits.BlockSize, kernel.ActivationBlockSize);
        var lengths = block == 1 ? Enumerable.Range(0, 300) : Enumerable.Range(1, block == 256 ? 6 : 24).Select(k => k * block);
        foreach (var n in lengths)
        {
            for (var seed = 0; seed < (block == 1 ? 2 : 8); seed++)
            {
                var rng = new Random(seed * 7919 + n);
                var w = RandomWeights(type, n, rng);
                var x = new float[n];
                for (var i = 0; i < n; i++)
                    x[i] = (float)(rng.NextDouble() * 2 - 1) * (rng.Next(10) == 0 ? 8 : 1);
                var a = Quantize(kernel.Activation, x);
                var wf = new float[n];
                GgmlDequantize.Dequantize(type, w, wf);
                var scale = 0.0;
                for (var i = 0; i < n; i++)
                    scale += Math.Abs(wf[i] * x[i]);
                fixed (byte* wp = w)
                fixed (byte* ap = a)
                {
                    var r = kernel.Reference(wp, ap, n);
                    var f = kernel.Fast(wp, ap, n);
                    var tol = (float)(2e-6 * scale) + 1e-6f;
                    Assert.True(Math.Abs(r - f) <= tol, $"{type} n={n} seed={seed}: fast {f} vs reference {r} (tol {tol})");
                }
            }
        }
    }

    public static TheoryData<GgmlType> MultiTokenTypes()
    {
        var data = new TheoryData<GgmlType>();
        foreach (var t in WeightKernel.SupportedTypes.Order())
        {
            if (WeightKernel.TryGet(t)!.Multi4 != null)
                data.Add(t);
        }
        if (data.Count == 0)
            data.Add(GgmlType.Q8_0); // no SIMD here: the test then checks the kernel is absent
        return data;
    }

    [Theory]
    [MemberData(nameof(MultiTokenTypes))]
    public void FourTokenKernelsAreBitIdenticalToFourSingleTokenCalls(GgmlType type)
    {
        var kernel = WeightKernel.TryGet(type)!;
        if (kernel.Multi4 == null)
        {
            Assert.False(DotAvx2.IsSupported, $"{type} has no four-token kernel on a SIMD machine");
            return;
        }
        var block = Math.Max(GgmlTypeTraits.Get(type).BlockSize, kernel.ActivationBlockSize);
        foreach (var n in Enumerable.Range(1, block == 256 ? 6 : 24).Select(k => k * block))
        {
            for (var seed = 0; seed < 6; seed++)
            {
                var rng = new Random(seed * 104729 + n);
                var w = RandomWeights(type, n, rng);
                var rowBytes = ActivationQuantizer.RowBytes(kernel.Activation, n);
                var stride = rowBytes + 64 * (seed % 3); // rows need not be packed
                var acts = new byte[stride * 4];
                for (var t = 0; t < 4; t++)
                    Quantize(kernel.Activation, RandomActivations(rng, n)).CopyTo(acts, t * stride);
                var four = new float[4];
                fixed (byte* wp = w)
                fixed (byte* ap = acts)
                fixed (float* r = four)
                {
                    kernel.Multi4(wp, ap, stride, n, r);
                    for (var t = 0; t < 4; t++)
                    {
                        AssertSingleAndReference(kernel, wp, ap + t * stride, n, four[t], $"{type} n={n} seed={seed} token {t}: four-token");
                    }
                }
            }
        }
    }

    [Theory]
    [InlineData(GgmlType.Q4_K)]
    [InlineData(GgmlType.Q6_K)]
    public void TwoRowKernelsAreBitIdenticalToTwoSingleRowCalls(GgmlType type)
    {
        var kernel = WeightKernel.TryGet(type)!;
        if (kernel.Rows2 == null)
        {
            Assert.False(DotAvx2.IsSupported, $"{type} has no two-row kernel on a SIMD machine");
            return;
        }
        foreach (var n in Enumerable.Range(1, 6).Select(k => k * 256))
        {
            for (var seed = 0; seed < 6; seed++)
            {
                var rng = new Random(seed * 7 + n);
                var rowBytes = GgmlTypeTraits.Get(type).RowBytes(n);
                var apart = (int)rowBytes * (1 + seed % 3); // adjacent rows, or rows further apart
                var w = new byte[apart + rowBytes];
                RandomWeights(type, n, rng).CopyTo(w, 0);
                RandomWeights(type, n, rng).CopyTo(w, apart);
                var a = Quantize(kernel.Activation, RandomActivations(rng, n));
                var two = new float[2];
                fixed (byte* wp = w)
                fixed (byte* ap = a)
                fixed (float* r = two)
                {
                    kernel.Rows2(wp, apart, ap, n, r);
                    for (var k = 0; k < 2; k++)
                    {
                        AssertSingleAndReference(kernel, wp + k * apart, ap, n, two[k], $"{type} n={n} seed={seed} row {k}: two-row");
                    }
                }
            }
        }
    }

    [Theory]
    [InlineData(GgmlType.Q4_K, 1)]
    [InlineData(GgmlType.Q6_K, 1)]
    [InlineData(GgmlType.Q4_K, 11)]
    [InlineData(GgmlType.Q6_K, 7)]
    [InlineData(GgmlType.Q8_0, 37)]
    [InlineData(GgmlType.Q4_0, 6)]
    public void BatchProductEqualsOneDotPerRowAndToken(GgmlType type, int tokens)
    {
        // Rows and tokens not multiples of the tiles (8 rows, 32 tokens, 4-token kernel) and a row range that starts mid-tile.
        const int cols = 512, rows = 21, r0 = 3, r1 = 20;
        var kernel = WeightKernel.TryGet(type)!;
        var rng = new Random(tokens);
        var rowBytes = GgmlTypeTraits.Get(type).RowBytes(cols);
        var weights = new byte[rowBytes * rows];
        for (var r = 0; r < rows; r++)
            RandomWeights(type, cols, rng).CopyTo(weights, r * rowBytes);
        var xStride = ActivationQuantizer.RowBytes(kernel.Activation, cols);
        var acts = new byte[xStride * tokens];
        var x = new float[cols];
        for (var t = 0; t < tokens; t++)
        {
            for (var i = 0; i < cols; i++)
                x[i] = (float)(rng.NextDouble() * 2 - 1);
            Quantize(kernel.Activation, x).CopyTo(acts, t * xStride);
        }
        var y = new float[tokens * rows];
        fixed (byte* wp = weights)
        fixed (byte* ap = acts)
        fixed (float* yp = y)
        {
            var matrix = new Hearth.Engine.Model.WeightMatrix("w", type, wp, cols, rows, kernel);
            MatMulJob.Compute(matrix, ap, xStride, yp, rows, tokens, r0, r1);
            for (var t = 0; t < tokens; t++)
            {
                for (var r = 0; r < rows; r++)
                {
                    var expected = r is >= r0 and < r1 ? kernel.Fast(wp + r * rowBytes, ap + t * xStride, cols) : 0f;
                    Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(y[t * rows + r]),
                        $"{type} token {t} row {r}: batch {y[t * rows + r]:R} vs dot {expected:R}");
                }
            }
        }
    }

    /// <summary>A multi-row or multi-token kernel's result for one (row, token): bit-identical to the single-token fast
    /// kernel, and within float rounding of the scalar reference.</summary>
    private static void AssertSingleAndReference(WeightKernel kernel, byte* w, byte* a, int n, float actual, string label)
    {
        var single = kernel.Fast(w, a, n);
        var reference = kernel.Reference(w, a, n);
        Assert.True(BitConverter.SingleToInt32Bits(single) == BitConverter.SingleToInt32Bits(actual), $"{label} {actual:R} vs single {single:R}");
        Assert.True(Math.Abs(reference - actual) <= 1e-4f * Math.Max(1, Math.Abs(reference)), $"{label} {actual:R} vs reference {reference:R}");
    }

    /// <summary>Activations in [-1, 1], one in ten scaled by 8 (outliers, as real activations have).</summary>
    internal static float[] RandomActivations(Random rng, int n)
    {
        var x = new float[n];
        for (var i = 0; i < n; i++)
            x[i] = (float)(rng.NextDouble() * 2 - 1) * (rng.Next(10) == 0 ? 8 : 1);
        return x;
    }

    /// <summary>Random bytes for the quants, with every fp16 scale field replaced by a finite value.</summary>
    internal static byte[] RandomWeights(GgmlType type, int n, Random rng)
    {
        var traits = GgmlTypeTraits.Get(type);
        var bytes = new byte[traits.RowBytes(n)];
        rng.NextBytes(bytes);
        if (type == GgmlType.F32)
        {
            for (var i = 0; i < n; i++)
                BitConverter.TryWriteBytes(bytes.AsSpan(i * 4), (float)(rng.NextDouble() * 2 - 1));
            return bytes;
        }
        if (type is GgmlType.F16 or GgmlType.BF16)
        {
            for (var i = 0; i < n; i++)
            {
                var v = (float)(rng.NextDouble() * 2 - 1);
                var bits = type == GgmlType.F16 ? BitConverter.HalfToUInt16Bits((Half)v) : (ushort)(BitConverter.SingleToUInt32Bits(v) >> 16);
                BitConverter.TryWriteBytes(bytes.AsSpan(i * 2), bits);
            }
            return bytes;
        }
        int[] halfOffsets = type switch
        {
            GgmlType.Q4_1 or GgmlType.Q5_1 or GgmlType.Q4_K or GgmlType.Q5_K => [0, 2],
            GgmlType.Q2_K => [80, 82],
            GgmlType.Q3_K => [108],
            GgmlType.Q6_K => [208],
            _ => [0],
        };
        for (var b = 0; b < n / traits.BlockSize; b++)
        {
            foreach (var o in halfOffsets)
            {
                var v = (Half)((rng.NextDouble() * 2 - 1) * 0.05);
                BitConverter.TryWriteBytes(bytes.AsSpan(b * traits.TypeSize + o), BitConverter.HalfToUInt16Bits(v));
            }
        }
        return bytes;
    }

    internal static byte[] Quantize(ActivationType type, float[] x)
    {
        var result = new byte[ActivationQuantizer.RowBytes(type, x.Length)];
        fixed (float* xp = x)
        fixed (byte* r = result)
            ActivationQuantizer.Quantize(type, xp, r, x.Length);
        return result;
    }

    private static WeightKernel KernelFor(string typeName)
    {
        Assert.True(GgmlTypeTraits.TryParse(typeName, out var traits));
        return WeightKernel.TryGet(traits.Type) ?? throw new InvalidOperationException("no kernel for " + typeName);
    }

    private static string ActivationName(ActivationType t) => t switch
    {
        ActivationType.F16 => "f16",
        ActivationType.BF16 => "bf16",
        ActivationType.Q8_0 => "q8_0",
        ActivationType.Q8_1 => "q8_1",
        ActivationType.Q8_K => "q8_K",
        _ => "f32",
    };

    private static (JsonElement Root, JsonElement Entry, float[] Activation) Entry(string typeName)
    {
        var root = Vectors.Value.RootElement;
        var entry = root.GetProperty("types").EnumerateArray().Single(t => t.GetProperty("type").GetString() == typeName);
        return (root, entry, ReferenceVectors.Base64Floats(root.GetProperty("activation_f32le_b64").GetString()!));
    }
}
