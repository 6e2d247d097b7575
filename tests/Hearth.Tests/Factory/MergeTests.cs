using System.Security.Cryptography;
using System.Text.Json;
using Hearth.Factory;
using Hearth.Gguf;
using Hearth.Tests.Shared;

namespace Hearth.Tests.Factory;

public sealed class MergeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("hearth-merge-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly Lazy<JsonDocument> Reference = new(() =>
        JsonDocument.Parse(File.ReadAllText(Fixtures.File("lora", "merged_reference.json"))));

    public static TheoryData<int> Merges() => [.. Enumerable.Range(0, Reference.Value.RootElement.GetProperty("merges").GetArrayLength())];

    [Theory]
    [MemberData(nameof(Merges))]
    public void MergeIsByteIdenticalToLlamaExportLora(int index)
    {
        var m = Reference.Value.RootElement.GetProperty("merges")[index];
        var manifest = m.GetProperty("output_manifest");
        var output = Path.Combine(_dir, manifest.GetProperty("file").GetString()!);
        var result = LoraMerger.Merge(Fixtures.File("llama-spm", "llama-spm-F32.gguf"), Fixtures.File("lora", m.GetProperty("adapter_file").GetString()!),
            (float)m.GetProperty("user_scale").GetDouble(), output);

        // The merged tensors, bit for bit, against the bytes llama-export-lora wrote.
        using var expected = GgufFile.Open(Fixtures.File("lora", m.GetProperty("merged_tensors_file").GetString()!));
        using var actual = GgufFile.Open(output);
        var names = m.GetProperty("merged_tensors").EnumerateArray().Select(e => e.GetString()!).ToList();
        Assert.Equal(names, result.Merged.Select(x => x.Tensor).Order(StringComparer.Ordinal));
        foreach (var name in names)
        {
            var e = expected.GetTensorData(expected.GetTensor(name));
            var a = actual.GetTensorData(actual.GetTensor(name));
            var i = e.CommonPrefixLength(a);
            Assert.True(i == e.Length && e.Length == a.Length, $"{name}: first difference at byte {i} (element {i / 4})");
        }

        // And the whole file: metadata order, tensor order, types, padding.
        Assert.Equal(manifest.GetProperty("size_bytes").GetInt64(), new FileInfo(output).Length);
        var tensors = manifest.GetProperty("tensors").EnumerateArray().ToList();
        Assert.Equal(tensors.Select(t => t.GetProperty("name").GetString()!), actual.Tensors.Select(t => t.Name));
        foreach (var t in tensors)
        {
            var info = actual.GetTensor(t.GetProperty("name").GetString()!);
            Assert.Equal(t.GetProperty("sha256").GetString(), Convert.ToHexStringLower(SHA256.HashData(actual.GetTensorData(info))));
        }
        Assert.Equal(manifest.GetProperty("sha256").GetString(), Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(output))));
    }

    [Fact]
    public void AdapterWhoseShapesDoNotMatchIsAnErrorNamingTheTensor()
    {
        // Retarget the healthcare adapter's attn_q pair (n_out 64) onto attn_k (n_out 32).
        var bad = Path.Combine(_dir, "bad.gguf");
        using (var good = GgufFile.Open(Fixtures.File("lora", "lora-healthcare.gguf")))
        {
            var w = new GgufWriter();
            foreach (var kv in good.Metadata)
                w.SetMetadata(kv.Key, kv.Value);
            foreach (var t in good.Tensors)
                w.AddTensor(good, t, t.Name.Replace("blk.0.attn_q.", "blk.0.attn_k.", StringComparison.Ordinal));
            w.WriteTo(bad);
        }
        var ex = Assert.Throws<InvalidDataException>(() =>
            LoraMerger.Merge(Fixtures.File("llama-spm", "llama-spm-F32.gguf"), bad, 1f, Path.Combine(_dir, "out.gguf")));
        Assert.Contains("blk.0.attn_k.weight", ex.Message);
        Assert.False(File.Exists(Path.Combine(_dir, "out.gguf")));
    }

    [Fact]
    public void NonAdapterFileIsRejected()
    {
        var ex = Assert.Throws<InvalidDataException>(() =>
            LoraMerger.Merge(Fixtures.File("llama-spm", "llama-spm-F32.gguf"), Fixtures.File("llama-spm", "llama-spm-Q8_0.gguf"), 1f, Path.Combine(_dir, "out.gguf")));
        Assert.Contains("general.type", ex.Message);
    }
}
