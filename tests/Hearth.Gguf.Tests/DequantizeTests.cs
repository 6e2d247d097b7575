using System.Runtime.InteropServices;
using System.Text.Json;
using Hearth.Tests.Shared;

namespace Hearth.Gguf.Tests;

public class DequantizeTests
{
    private static readonly Lazy<JsonDocument> Vectors = new(() =>
        JsonDocument.Parse(File.ReadAllText(Fixtures.File("quant-kernels", "quant_vectors.json"))));

    public static TheoryData<string> VectorTypes() =>
        [.. Vectors.Value.RootElement.GetProperty("types").EnumerateArray().Select(t => t.GetProperty("type").GetString()!)];

    private static JsonElement VectorFor(string type) =>
        Vectors.Value.RootElement.GetProperty("types").EnumerateArray().Single(t => t.GetProperty("type").GetString() == type);

    private static float[] Floats(string b64) => MemoryMarshal.Cast<byte, float>(Convert.FromBase64String(b64)).ToArray();

    [Theory]
    [MemberData(nameof(VectorTypes))]
    public void MatchesGgmlToFloatBitForBit(string typeName)
    {
        var v = VectorFor(typeName);
        Assert.True(GgmlTypeTraits.TryParse(typeName, out var traits));
        Assert.Equal(v.GetProperty("block_size").GetInt32(), traits.BlockSize);
        Assert.Equal(v.GetProperty("type_size").GetInt32(), traits.TypeSize);
        Assert.Equal(v.GetProperty("ggml_type_id").GetUInt32(), (uint)traits.Type);

        var quantized = Convert.FromBase64String(v.GetProperty("quantized_b64").GetString()!);
        var expected = Floats(v.GetProperty("dequantized_f32le_b64").GetString()!);
        var actual = new float[expected.Length];
        GgmlDequantize.Dequantize(traits.Type, quantized, actual);
        for (var i = 0; i < expected.Length; i++)
        {
            if (BitConverter.SingleToUInt32Bits(expected[i]) != BitConverter.SingleToUInt32Bits(actual[i]))
                Assert.Fail($"{typeName}: element {i} is {actual[i]:R}, ggml gives {expected[i]:R}");
        }
    }

    [Fact]
    public void KnownBlocksDecode()
    {
        // Q8_0: d = 0.5 (f16 0x3800), q = -3, 4 => -1.5, 2.0.
        var q8 = new byte[34];
        BitConverter.TryWriteBytes(q8.AsSpan(0), (ushort)0x3800);
        q8[2] = unchecked((byte)-3);
        q8[3] = 4;
        var y = new float[32];
        GgmlDequantize.Dequantize(GgmlType.Q8_0, q8, y);
        Assert.Equal(-1.5f, y[0]);
        Assert.Equal(2f, y[1]);
        Assert.Equal(0f, y[2]);

        // Q4_0: d = 2, byte 0x9F => low nibble 15 - 8 = 7 -> 14 (element 0), high 9 - 8 = 1 -> 2 (element 16).
        var q4 = new byte[18];
        BitConverter.TryWriteBytes(q4.AsSpan(0), (ushort)0x4000);
        q4[2] = 0x9F;
        GgmlDequantize.Dequantize(GgmlType.Q4_0, q4, y);
        Assert.Equal(14f, y[0]);
        Assert.Equal(2f, y[16]);
        Assert.Equal(-16f, y[1]);

        // BF16 1.0 = 0x3F80.
        var bf = new byte[] { 0x80, 0x3F };
        var one = new float[1];
        GgmlDequantize.Dequantize(GgmlType.BF16, bf, one);
        Assert.Equal(1f, one[0]);
    }

    [Fact]
    public void UnsupportedTypesAreNamed()
    {
        var ex = Assert.Throws<NotSupportedException>(() => GgmlDequantize.Dequantize(GgmlType.IQ2_XXS, new byte[66], new float[256]));
        Assert.Contains("iq2_xxs", ex.Message);
        Assert.Throws<ArgumentException>(() => GgmlDequantize.Dequantize(GgmlType.Q8_0, new byte[33], new float[32]));
    }

    public static TheoryData<string> QuantizedModels() =>
    [
        "llama-spm-F16.gguf", "llama-spm-Q8_0.gguf", "llama-spm-Q4_0.gguf", "llama-spm-Q4_K_M.gguf",
        "llama-spm-Q5_K_M.gguf", "llama-spm-Q6_K.gguf",
    ];

    [Theory]
    [MemberData(nameof(QuantizedModels))]
    public void QuantizedFixtureTensorsLandNearTheF32Source(string name)
    {
        using var source = GgufFile.Open(Fixtures.File("llama-spm", "llama-spm-F32.gguf"));
        using var quant = GgufFile.Open(Fixtures.File("llama-spm", name));
        var checkedTypes = new HashSet<GgmlType>();
        foreach (var qt in quant.Tensors)
        {
            var st = source.GetTensor(qt.Name);
            Assert.Equal(st.Dimensions, qt.Dimensions);
            var reference = MemoryMarshal.Cast<byte, float>(source.GetTensorData(st)).ToArray();
            var actual = new float[qt.ElementCount];
            GgmlDequantize.Dequantize(qt.Type, quant.GetTensorData(qt), actual);
            double err = 0, norm = 0;
            for (var i = 0; i < actual.Length; i++)
            {
                err += (actual[i] - reference[i]) * (double)(actual[i] - reference[i]);
                norm += reference[i] * (double)reference[i];
            }
            var relative = Math.Sqrt(err / norm);
            // The format's error: the relative RMSE ggml itself reaches on the Gaussian kernel vectors, with headroom
            // for the heavier-tailed weights; F32 tensors copied unchanged must be exact.
            var bound = qt.Type == GgmlType.F32 ? 0 : 2.5 * FormatError(qt.Type);
            Assert.True(relative <= bound, $"{name} {qt.Name} ({qt.Type}): relative RMSE {relative:G4} exceeds {bound:G4}");
            checkedTypes.Add(qt.Type);
        }
        Assert.Contains(checkedTypes, t => t != GgmlType.F32);
    }

    private static double FormatError(GgmlType type) =>
        VectorFor(GgmlTypeTraits.Get(type).Name).GetProperty("rmse_over_rms").GetDouble();
}
