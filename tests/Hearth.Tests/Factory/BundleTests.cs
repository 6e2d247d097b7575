using System.Security.Cryptography;
using Hearth.Configuration;
using Hearth.Engine.Generation;
using Hearth.Engine.Model;
using Hearth.Factory;
using Hearth.Gguf;
using EngineLora = Hearth.Engine.Model.LoraAdapter;
using Hearth.Tests.Shared;
using Microsoft.Extensions.AI;

namespace Hearth.Tests.Factory;

/// <summary>
/// <c>hearth factory bundle</c>: a base model and per-domain adapters in one GGUF. The adapters read back from the bundle
/// must reproduce llama.cpp's runtime-adapter vectors (fixtures lora/*.json) at the scale the bundle records, the base
/// must be untouched, and bad descriptions must name the key and line.
/// </summary>
public sealed class BundleTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("hearth-bundle-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Base => Fixtures.File("llama-spm", "llama-spm-F32.gguf");

    /// <summary>healthcare at scale 0.5 (F32 adapter), creative at 1.0 (F16 adapter), general without one.</summary>
    internal static string WriteSpec(string dir, string? extra = null)
    {
        var path = Path.Combine(dir, "bundle.yaml");
        File.WriteAllText(path, $"""
            base: {Base}
            domains:
              healthcare:
                adapter: {Fixtures.File("lora", "lora-healthcare.gguf")}
                scale: 0.5
                description: clinical questions
                examples: [ "dosage of metformin", "symptoms of a stroke" ]
              creative:
                adapter: {Fixtures.File("lora", "lora-creative.gguf")}
                policy: allow_cloud
                empathetic: true
              general:
                description: everything else
            {extra}
            """);
        return path;
    }

    private string BuildBundle()
    {
        var output = Path.Combine(_dir, "bundle.gguf");
        BundleBuilder.Build(BundleSpec.Load(WriteSpec(_dir)), output);
        return output;
    }

    [Fact]
    public void BundleKeepsTheBaseAndRecordsEveryDomain()
    {
        var output = Path.Combine(_dir, "bundle.gguf");
        var result = BundleBuilder.Build(BundleSpec.Load(WriteSpec(_dir)), output);
        Assert.Equal(["healthcare", "creative", "general"], result.Domains.Select(d => d.Domain));
        Assert.Equal((4 * 2, 8f, 4), (result.Domains[0].AdapterTensors, result.Domains[0].Alpha, result.Domains[0].Rank)); // attn_q, attn_v × 2 layers
        Assert.Equal((4 * 2, 4f, 8), (result.Domains[1].AdapterTensors, result.Domains[1].Alpha, result.Domains[1].Rank)); // ffn_gate, ffn_up × 2 layers
        Assert.Equal(0, result.Domains[2].AdapterTensors);

        using var bundle = GgufFile.Open(output);
        using var source = GgufFile.Open(Base);
        Assert.True(BundleFormat.IsBundle(bundle));
        Assert.Equal(["healthcare", "creative", "general"], BundleFormat.Domains(bundle));
        Assert.Equal(0.5f, bundle.Metadata.GetSingle(BundleFormat.DomainKey("healthcare", "scale")));
        Assert.Equal("allow_cloud", bundle.Metadata.GetString(BundleFormat.DomainKey("creative", "policy")));
        Assert.Equal(["dosage of metformin", "symptoms of a stroke"], bundle.Metadata.GetArray(BundleFormat.DomainKey("healthcare", "examples"))!.GetStrings());
        Assert.False(BundleFormat.HasAdapter(bundle, "general"));

        // Every base key and tensor is there, byte for byte.
        foreach (var kv in source.Metadata)
            Assert.True(bundle.Metadata.ContainsKey(kv.Key), kv.Key);
        foreach (var t in source.Tensors)
        {
            Assert.True(bundle.TryGetTensor(t.Name, out var copy), t.Name);
            Assert.Equal(t.Type, copy.Type);
            Assert.Equal(SHA256.HashData(source.GetTensorData(t)), SHA256.HashData(bundle.GetTensorData(copy)));
        }
        Assert.Equal(source.Tensors.Count + 16, bundle.Tensors.Count);
    }

    [Theory]
    [InlineData("healthcare", "llama-spm-F32.lora-healthcare-s0.5", 1e-4f)]
    [InlineData("creative", "llama-spm-F32.lora-creative-s1.0", 5e-3f)]
    public void DomainAdaptersReadFromTheBundleMatchLlamaCpp(string domain, string vectors, float tolerance)
    {
        var path = BuildBundle();
        var reference = ReferenceVectors.Load(Fixtures.File("lora", vectors + ".json"));
        using var model = TransformerModel.Load(path);
        var meta = model.File.Metadata;
        using var adapter = EngineLora.FromModelFile(model, domain, BundleFormat.TensorPrefix(domain), meta.GetSingle(BundleFormat.DomainKey(domain, "alpha"))!.Value);
        var set = new LoraSet([(adapter, meta.GetSingle(BundleFormat.DomainKey(domain, "scale"))!.Value)]);
        using var session = new InferenceSession(model, new SessionOptions { ContextLength = 512, Threads = 1, Adapters = set });
        using var plain = new InferenceSession(model, new SessionOptions { ContextLength = 512, Threads = 1 });
        var checkedCases = 0;
        foreach (var e in reference.Eval.Where(e => e.LastLogits is not null))
        {
            session.Rewind(0);
            plain.Rewind(0);
            var logits = session.Evaluate(e.Tokens).ToArray();
            var baseLogits = plain.Evaluate(e.Tokens).ToArray();
            var worst = 0f;
            var fromBase = 0f;
            for (var k = 0; k < logits.Length; k++)
            {
                worst = Math.Max(worst, Math.Abs(logits[k] - e.LastLogits![k]));
                fromBase = Math.Max(fromBase, Math.Abs(baseLogits[k] - e.LastLogits[k]));
            }
            Assert.True(worst <= tolerance, $"{e.Id}: max |Δlogit| {worst} > {tolerance}");
            Assert.True(fromBase > 100 * tolerance, $"{e.Id}: the base model is within {fromBase} of the adapted reference");
            checkedCases++;
        }
        Assert.True(checkedCases > 0, "the vectors carry no full last-position logits");
    }

    [Fact]
    public async Task OneLoadedBundleAnswersEachDomainWithItsAdapter()
    {
        var path = BuildBundle();
        using var client = EngineChatClient.Open(path, new EngineOptions { Threads = 1 });
        Assert.Equal(["healthcare", "creative"], client.AdapterNames);
        var prompt = new[] { new ChatMessage(ChatRole.User, "The patient") };
        async Task<string> Answer(string? adapter) => (await client.GetResponseAsync(prompt, new ChatOptions
        {
            Temperature = 0,
            MaxOutputTokens = 12,
            AdditionalProperties = new() { [EngineChatOptionKeys.RawPrompt] = true, [EngineChatOptionKeys.Adapter] = adapter },
        })).Text;
        var plain = await Answer(null);
        var healthcare = await Answer("healthcare");
        var creative = await Answer("creative");
        Assert.NotEqual(plain, healthcare);
        Assert.NotEqual(plain, creative);
        Assert.NotEqual(healthcare, creative);
        Assert.Equal(plain, await Answer(null));

        // The bundle's base answers like the base file itself.
        using var baseClient = EngineChatClient.Open(Base, new EngineOptions { Threads = 1 });
        var fromBase = (await baseClient.GetResponseAsync(prompt, new ChatOptions
        {
            Temperature = 0,
            MaxOutputTokens = 12,
            AdditionalProperties = new() { [EngineChatOptionKeys.RawPrompt] = true },
        })).Text;
        Assert.Equal(fromBase, plain);
    }

    [Fact]
    public void ValidationPassesForEveryDomainAndMeasuresEachAdapter()
    {
        var report = BundleValidator.Validate(BuildBundle());
        Assert.True(report.Ok, string.Join("; ", report.Domains.Select(d => $"{d.Domain}: {d.Problem}")));
        Assert.Equal(["healthcare", "creative", "general"], report.Domains.Select(d => d.Domain));
        Assert.All(report.Domains.Take(2), d => Assert.True(d.HasAdapter && d.MaxLogitDelta > 1e-3, $"{d.Domain}: {d.MaxLogitDelta}"));
        Assert.False(report.Domains[2].HasAdapter);
        Assert.Equal(0, report.Domains[2].MaxLogitDelta);
        Assert.All(report.Domains, d => Assert.False(string.IsNullOrEmpty(d.Smoke)));

        // A plain model is not a bundle.
        var e = Assert.Throws<InvalidDataException>(() => BundleValidator.Validate(Base));
        Assert.Contains("not a Hearth bundle", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("    adaptor: x.gguf", "domains.general.adaptor", "unknown key")]
    [InlineData("    scale: lots", "domains.general.scale", "number")]
    [InlineData("    policy: anywhere", "domains.general.policy", "local_only")]
    [InlineData("    adapter: missing.gguf", "domains.general.adapter", "file not found")]
    public void SpecErrorsNameTheKeyFileAndLine(string line, string key, string message)
    {
        var path = WriteSpec(_dir);
        // Appended under domains.general, which is the last domain (line count known from the file).
        var lines = File.ReadAllLines(path).ToList();
        var at = lines.FindIndex(l => l.Contains("description: everything else", StringComparison.Ordinal)) + 1;
        lines.Insert(at, line);
        File.WriteAllLines(path, lines);
        var e = Assert.Throws<HearthConfigException>(() => BundleSpec.Load(path));
        var text = e.ToString();
        Assert.Contains($"bundle.yaml:{at + 1}: {key}", text, StringComparison.Ordinal);
        Assert.Contains(message, text, StringComparison.Ordinal);
    }

    [Fact]
    public void SpecWithoutBaseOrDomainsIsRefused()
    {
        var path = Path.Combine(_dir, "empty.yaml");
        File.WriteAllText(path, "domains: {}\n");
        var e = Assert.Throws<HearthConfigException>(() => BundleSpec.Load(path));
        Assert.Contains("base", e.Message, StringComparison.Ordinal);
        Assert.Contains("at least one domain", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AnAdapterForAnotherModelFailsNamingTheDomainAndLeavesNoFile()
    {
        var bad = Path.Combine(_dir, "bad.gguf");
        var w = new GgufWriter();
        w.SetMetadata("general.architecture", GgufValue.FromString("llama"));
        w.SetMetadata("general.type", GgufValue.FromString("adapter"));
        w.SetMetadata("adapter.type", GgufValue.FromString("lora"));
        w.AddTensor("blk.0.attn_q.weight.lora_a", GgmlType.F32, [32, 4], new byte[32 * 4 * 4]);
        w.AddTensor("blk.0.attn_q.weight.lora_b", GgmlType.F32, [4, 64], new byte[4 * 64 * 4]);
        w.WriteTo(bad);
        var spec = Path.Combine(_dir, "bad.yaml");
        File.WriteAllText(spec, $"base: {Base}\ndomains:\n  legal:\n    adapter: bad.gguf\n");
        var output = Path.Combine(_dir, "out.gguf");
        var e = Assert.Throws<InvalidDataException>(() => BundleBuilder.Build(BundleSpec.Load(spec), output));
        Assert.StartsWith("domain 'legal'", e.Message, StringComparison.Ordinal);
        Assert.Contains("shapes do not match base tensor 'blk.0.attn_q.weight'", e.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(output));
        Assert.Empty(Directory.GetFiles(_dir, "out.gguf*"));

        // A bundle cannot be the base of another bundle.
        var first = BuildBundle();
        File.WriteAllText(spec, $"base: {first}\ndomains:\n  legal: {{ description: contracts }}\n");
        var again = Assert.Throws<InvalidDataException>(() => BundleBuilder.Build(BundleSpec.Load(spec), output));
        Assert.Contains("already a Hearth bundle", again.Message, StringComparison.Ordinal);
    }
}
