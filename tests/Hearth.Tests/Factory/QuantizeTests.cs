using System.Runtime.InteropServices;
using Hearth.Factory;
using Hearth.Gguf;
using Hearth.Tests.Shared;

namespace Hearth.Tests.Factory;

public sealed class QuantizeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("hearth-quantize-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public static TheoryData<string, string> SpmFixtures() => new()
    {
        { "F16", "llama-spm-F16.gguf" },
        { "Q8_0", "llama-spm-Q8_0.gguf" },
        { "Q4_0", "llama-spm-Q4_0.gguf" },
        { "Q4_K_M", "llama-spm-Q4_K_M.gguf" },
        { "Q5_K_M", "llama-spm-Q5_K_M.gguf" },
        { "Q6_K", "llama-spm-Q6_K.gguf" },
    };

    [Theory]
    [MemberData(nameof(SpmFixtures))]
    public void QuantizedFileIsByteIdenticalToLlamaQuantize(string type, string reference)
    {
        var output = Path.Combine(_dir, reference);
        var result = ModelQuantizer.Quantize(Fixtures.File("llama-spm", "llama-spm-F32.gguf"), output, QuantizeFileType.Parse(type), new QuantizeOptions());
        AssertSameFile(Fixtures.File("llama-spm", reference), output);
        Assert.Equal(new FileInfo(output).Length, result.OutputFileSize);
    }

    [Fact]
    public void ASplitSourceQuantizesToTheSameFileAsTheWholeOne()
    {
        // gguf-split parts of the F32 fixture: read whole (the first part names the others), written as one file
        // byte-identical to llama-quantize's output from the unsplit source.
        var parts = SplitGguf.Write(Fixtures.File("llama-spm", "llama-spm-F32.gguf"), _dir, "spm-F32", 3);
        var output = Path.Combine(_dir, "from-split-Q4_K_M.gguf");
        ModelQuantizer.Quantize(parts[0], output, QuantizeFileType.Q4_K_M, new QuantizeOptions());
        AssertSameFile(Fixtures.File("llama-spm", "llama-spm-Q4_K_M.gguf"), output);

        // Merge reads a single file: a split base is refused with the way to join it.
        var merge = Assert.Throws<InvalidDataException>(() => LoraMerger.Merge(parts[0], Fixtures.File("lora", "lora-healthcare.gguf"), 1f, Path.Combine(_dir, "m.gguf")));
        Assert.Contains("3-part split model", merge.Message);
        Assert.Contains("hearth factory quantize", merge.Message);

        File.Delete(parts[1]);
        var ex = Assert.Throws<InvalidDataException>(() => ModelQuantizer.Quantize(parts[0], Path.Combine(_dir, "x.gguf"), QuantizeFileType.Q8_0, new QuantizeOptions()));
        Assert.Contains(parts[1], ex.Message);
        Assert.False(File.Exists(Path.Combine(_dir, "x.gguf")));
    }

    [Fact]
    public void QuantizationDoesNotDependOnThreadCount()
    {
        var one = Path.Combine(_dir, "one.gguf");
        var many = Path.Combine(_dir, "many.gguf");
        var source = Fixtures.File("llama-spm", "llama-spm-F32.gguf");
        var r1 = ModelQuantizer.Quantize(source, one, QuantizeFileType.Q4_K_M, new QuantizeOptions { Threads = 1 });
        var r4 = ModelQuantizer.Quantize(source, many, QuantizeFileType.Q4_K_M, new QuantizeOptions { Threads = 4 });
        Assert.Equal(1, r1.Threads);
        Assert.Equal(4, r4.Threads);
        AssertSameFile(one, many);
    }

    [Fact]
    public void TokenEmbeddingAndOutputOverridesMatchLlamaBpeFixture()
    {
        // The full-F32 source of this fixture is not shipped. Rebuild it: the layer weights are F32 in the fixture
        // already, and the two Q4_0 matrices dequantize to values that Q4_0 quantizes back to the same bytes
        // (each block's extreme is exactly -8·d, every other value exactly (q-8)·d).
        var reference = Fixtures.File("llama-bpe", "llama-bpe-F32_embQ4_0_outQ4_0.gguf");
        var source = Path.Combine(_dir, "llama-bpe-f32-full.gguf");
        using (var fixture = GgufFile.Open(reference))
        {
            var w = new GgufWriter();
            foreach (var kv in fixture.Metadata)
                w.SetMetadata(kv.Key, kv.Value);
            foreach (var t in fixture.Tensors)
            {
                if (t.Type == GgmlType.F32)
                {
                    w.AddTensor(fixture, t);
                    continue;
                }
                var floats = new float[t.ElementCount];
                GgmlDequantize.Dequantize(t.Type, fixture.GetTensorData(t), floats);
                w.AddTensor(t.Name, GgmlType.F32, t.Dimensions, MemoryMarshal.AsBytes(floats.AsSpan()).ToArray());
            }
            w.WriteTo(source);
        }
        var output = Path.Combine(_dir, "out.gguf");
        var result = ModelQuantizer.Quantize(source, output, QuantizeFileType.F32,
            new QuantizeOptions { TokenEmbeddingType = GgmlType.Q4_0, OutputTensorType = GgmlType.Q4_0 });
        AssertSameFile(reference, output);
        Assert.Equal(GgmlType.Q4_0, result.Tensors.Single(t => t.Name == "token_embd.weight").Target);
        Assert.Equal(GgmlType.F32, result.Tensors.Single(t => t.Name == "blk.0.attn_q.weight").Target);
    }

    [Fact]
    public void MixChoosesLlamaCppTypesPerLayer()
    {
        using var f = GgufFile.Open(Fixtures.File("llama-spm", "llama-spm-F32.gguf"));
        var plan = ModelQuantizer.Plan(f, QuantizeFileType.Q4_K_M, new QuantizeOptions()).ToDictionary(p => p.Name);
        Assert.Equal(GgmlType.Q8_0, plan["token_embd.weight"].Target);
        Assert.Equal(GgmlType.Q5_0, plan["blk.0.attn_v.weight"].Target);
        Assert.Equal(GgmlType.Q8_0, plan["blk.1.attn_v.weight"].Target);
        Assert.Equal(GgmlType.Q4_K, plan["blk.0.ffn_down.weight"].Target);
        Assert.Equal(GgmlType.Q6_K, plan["blk.1.ffn_down.weight"].Target);
        Assert.Equal(GgmlType.F32, plan["blk.0.attn_norm.weight"].Target);
        Assert.Contains("falling back to q5_0", plan["blk.0.attn_q.weight"].Note);

        var pure = ModelQuantizer.Plan(f, QuantizeFileType.Q4_K_M, new QuantizeOptions { Pure = true }).ToDictionary(p => p.Name);
        Assert.Equal(GgmlType.Q4_K, pure["blk.1.ffn_down.weight"].Target);
        Assert.Equal(GgmlType.Q5_0, pure["blk.1.attn_v.weight"].Target);

        var q3 = ModelQuantizer.Plan(f, QuantizeFileType.Q3_K_M, new QuantizeOptions()).ToDictionary(p => p.Name);
        Assert.Equal(GgmlType.Q4_K, q3["blk.0.ffn_down.weight"].Target);
        Assert.Equal(GgmlType.Q5_1, q3["blk.0.attn_v.weight"].Target); // the first two attn_v get Q5_K, 64-wide rows fall back to Q5_1
        Assert.Equal(GgmlType.Q4_0, q3["blk.0.attn_q.weight"].Target); // Q3_K falls back to Q4_0
    }

    [Fact]
    public void UnknownTypeListsTheValidOnes()
    {
        var ex = Assert.Throws<ArgumentException>(() => QuantizeFileType.Parse("Q9_X"));
        Assert.Contains("Q9_X", ex.Message);
        Assert.Contains("Q4_K_M", ex.Message);
        Assert.Contains("Q8_0", ex.Message);
        Assert.Same(QuantizeFileType.Q4_K_M, QuantizeFileType.Parse("q4_k"));
    }

    [Fact]
    public void QuantizedSourceNeedsAllowRequantizeAndNamesTheTensor()
    {
        using var f = GgufFile.Open(Fixtures.File("llama-spm", "llama-spm-Q8_0.gguf"));
        var ex = Assert.Throws<InvalidDataException>(() => ModelQuantizer.Plan(f, QuantizeFileType.Q4_0, new QuantizeOptions()));
        Assert.Contains("blk.0.attn_k.weight", ex.Message); // token_embd stays q8_0 in a Q4_0 mix, so the first tensor to convert is attn_k
        Assert.Contains("--allow-requantize", ex.Message);
        var plan = ModelQuantizer.Plan(f, QuantizeFileType.Q4_0, new QuantizeOptions { AllowRequantize = true });
        Assert.Equal(GgmlType.Q4_0, plan.Single(p => p.Name == "blk.0.attn_q.weight").Target);
    }

    [Fact]
    public void RowLengthWithoutFallbackIsAnErrorNamingTheTensor()
    {
        // stories260K: n_ff 172 is no multiple of 32, and llama-quantize has no fallback for q8_0.
        using var f = GgufFile.Open(Fixtures.File("models", "stories260K.gguf"));
        var ex = Assert.Throws<InvalidDataException>(() => ModelQuantizer.Plan(f, QuantizeFileType.Q8_0, new QuantizeOptions()));
        Assert.Contains("blk.0.ffn_down.weight", ex.Message);
        Assert.Contains("172", ex.Message);
        var k = ModelQuantizer.Plan(f, QuantizeFileType.Q4_K_M, new QuantizeOptions()).ToDictionary(p => p.Name);
        Assert.Equal(GgmlType.F16, k["blk.0.ffn_down.weight"].Target);
        Assert.Contains("f16", k["blk.0.ffn_down.weight"].Note);
    }

    [Fact]
    public void NonFiniteWeightIsAnErrorNamingTensorAndRow()
    {
        var source = Path.Combine(_dir, "nan.gguf");
        using (var f = GgufFile.Open(Fixtures.File("llama-spm", "llama-spm-F32.gguf")))
        {
            var w = new GgufWriter();
            foreach (var kv in f.Metadata)
                w.SetMetadata(kv.Key, kv.Value);
            foreach (var t in f.Tensors)
            {
                if (t.Name != "blk.1.ffn_up.weight")
                {
                    w.AddTensor(f, t);
                    continue;
                }
                var floats = MemoryMarshal.Cast<byte, float>(f.GetTensorData(t)).ToArray();
                floats[3 * 64 + 5] = float.NaN;
                w.AddTensor(t.Name, t.Type, t.Dimensions, MemoryMarshal.AsBytes(floats.AsSpan()).ToArray());
            }
            w.WriteTo(source);
        }
        var output = Path.Combine(_dir, "nan-q8.gguf");
        var ex = Assert.Throws<InvalidDataException>(() => ModelQuantizer.Quantize(source, output, QuantizeFileType.Q8_0, new QuantizeOptions()));
        Assert.Contains("blk.1.ffn_up.weight", ex.Message);
        Assert.Contains("row 3", ex.Message);
        Assert.False(File.Exists(output));
    }

    internal static void AssertSameFile(string expectedPath, string actualPath)
    {
        var expected = File.ReadAllBytes(expectedPath);
        var actual = File.ReadAllBytes(actualPath);
        var diff = FirstDifference(expected, actual);
        if (diff < 0 && expected.Length == actual.Length)
            return;
        var at = diff < 0 ? Math.Min(expected.Length, actual.Length) : diff;
        using var f = GgufFile.Open(expectedPath);
        var where = f.Tensors.FirstOrDefault(t => at >= t.FileOffset && at < t.FileOffset + t.ByteSize) is { } t
            ? $"tensor '{t.Name}' ({GgmlTypeTraits.Get(t.Type).Name}) byte {at - t.FileOffset}"
            : at < f.DataOffset ? "the header (metadata / tensor infos)" : "padding";
        Assert.Fail($"{Path.GetFileName(actualPath)} differs from {Path.GetFileName(expectedPath)} at offset {at} in {where}; sizes {actual.Length} vs {expected.Length}.");
    }

    private static int FirstDifference(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        var n = Math.Min(a.Length, b.Length);
        var i = a[..n].CommonPrefixLength(b[..n]);
        return i < n ? i : -1;
    }
}
