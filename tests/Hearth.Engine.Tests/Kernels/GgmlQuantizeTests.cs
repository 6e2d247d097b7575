using System.Runtime.InteropServices;
using System.Text.Json;
using Hearth.Engine.Kernels;
using Hearth.Gguf;
using Hearth.Tests.Shared;

namespace Hearth.Engine.Tests.Kernels;

/// <summary>The factory's row quantizers against ggml_quantize_chunk's bytes (quant-kernels/quant_vectors.json).</summary>
public sealed class GgmlQuantizeTests
{
    private static readonly Lazy<JsonDocument> Vectors = new(() =>
        JsonDocument.Parse(File.ReadAllText(Fixtures.File("quant-kernels", "quant_vectors.json"))));

    private static List<string> WritableVectorTypeNames() =>
        [.. Vectors.Value.RootElement.GetProperty("types").EnumerateArray()
            .Select(t => t.GetProperty("type").GetString()!)
            .Where(n => GgmlTypeTraits.TryParse(n, out var t) && GgmlQuantize.IsSupported(t.Type))];

    public static TheoryData<string> WritableVectorTypes() => [.. WritableVectorTypeNames()];

    [Fact]
    public void EveryTypeTheIssueNamesHasVectors()
    {
        var names = WritableVectorTypeNames().ToHashSet();
        foreach (var n in new[] { "f16", "bf16", "q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "q2_K", "q3_K", "q4_K", "q5_K", "q6_K" })
            Assert.Contains(n, names);
    }

    [Theory]
    [MemberData(nameof(WritableVectorTypes))]
    public void RowQuantizerMatchesGgmlBitForBit(string typeName)
    {
        var root = Vectors.Value.RootElement;
        var v = root.GetProperty("types").EnumerateArray().Single(t => t.GetProperty("type").GetString() == typeName);
        Assert.True(GgmlTypeTraits.TryParse(typeName, out var traits));
        var input = MemoryMarshal.Cast<byte, float>(Convert.FromBase64String(root.GetProperty("input_f32le_b64").GetString()!)).ToArray();
        var expected = Convert.FromBase64String(v.GetProperty("quantized_b64").GetString()!);
        var nPerRow = root.GetProperty("n_per_row").GetInt32();
        var rows = root.GetProperty("nrows").GetInt32();
        var rowBytes = (int)traits.RowBytes(nPerRow);
        Assert.Equal(rows * rowBytes, expected.Length);

        var actual = new byte[expected.Length];
        for (var r = 0; r < rows; r++)
            GgmlQuantize.Quantize(traits.Type, input.AsSpan(r * nPerRow, nPerRow), actual.AsSpan(r * rowBytes, rowBytes));
        var diff = FirstDifference(expected, actual);
        if (diff >= 0)
        {
            var row = diff / rowBytes;
            var block = diff % rowBytes / traits.TypeSize;
            Assert.Fail($"{typeName}: byte {diff} differs (row {row}, block {block}, byte {diff % rowBytes % traits.TypeSize} of the block): ggml {expected[diff]:x2}, Hearth {actual[diff]:x2}");
        }
    }

    private static int FirstDifference(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        var n = Math.Min(a.Length, b.Length);
        var i = a[..n].CommonPrefixLength(b[..n]);
        return i < n ? i : -1;
    }

    [Fact]
    public void HalfAndBFloat16RoundToNearestEven()
    {
        Assert.Equal((ushort)0x3C00, GgmlQuantize.ToHalfBits(1f));
        Assert.Equal((ushort)0x3C00, GgmlQuantize.ToHalfBits(1f + 1f / 2048)); // halfway below: to even
        Assert.Equal((ushort)0x3C02, GgmlQuantize.ToHalfBits(1f + 3f / 2048)); // halfway above: to even
        Assert.Equal((ushort)0x3F80, GgmlQuantize.ToBFloat16Bits(1f));
        Assert.Equal((ushort)0x3F80, GgmlQuantize.ToBFloat16Bits(BitConverter.UInt32BitsToSingle(0x3F808000)));
        Assert.Equal((ushort)0x3F82, GgmlQuantize.ToBFloat16Bits(BitConverter.UInt32BitsToSingle(0x3F818000)));
    }

    [Fact]
    public void WrongSizesAreRejected()
    {
        Assert.Throws<ArgumentException>(() => GgmlQuantize.Quantize(GgmlType.Q4_K, new float[128], new byte[72]));
        Assert.Throws<ArgumentException>(() => GgmlQuantize.Quantize(GgmlType.Q8_0, new float[32], new byte[33]));
        Assert.Throws<NotSupportedException>(() => GgmlQuantize.Quantize(GgmlType.IQ2_XXS, new float[256], new byte[66]));
    }
}
