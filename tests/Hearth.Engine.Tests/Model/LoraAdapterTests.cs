using Hearth.Engine.Generation;
using Hearth.Engine.Model;
using Hearth.Gguf;
using Hearth.Tests.Shared;
using Microsoft.Extensions.AI;

namespace Hearth.Engine.Tests.Model;

/// <summary>
/// LoRA adapters applied at inference (y = W·x + s·B(A·x)) against llama.cpp's runtime-adapter vectors
/// (fixtures lora/*.json, made with llama_set_adapters_lora). Tolerances from the fixtures README: 1e-4 for the F32
/// healthcare adapter, 5e-3 with the F16 creative adapter.
/// </summary>
public sealed class LoraAdapterTests
{
    private static string Base => Fixtures.File("llama-spm", "llama-spm-F32.gguf");

    [Theory]
    [InlineData("llama-spm-F32.lora-healthcare-s1.0", "healthcare", 1.0f, 0f, 0f, 1e-4f)]
    [InlineData("llama-spm-F32.lora-healthcare-s0.5", "healthcare", 0.5f, 0f, 0f, 1e-4f)]
    [InlineData("llama-spm-F32.lora-creative-s1.0", null, 0f, "creative", 1.0f, 5e-3f)]
    [InlineData("llama-spm-F32.lora-healthcare-s1.0-creative-s0.5", "healthcare", 1.0f, "creative", 0.5f, 5e-3f)]
    public void RuntimeAdaptersMatchLlamaCpp(string vectors, string? first, float firstScale, object second, float secondScale, float tolerance)
    {
        var reference = ReferenceVectors.Load(Fixtures.File("lora", vectors + ".json"));
        using var model = TransformerModel.Load(Base);
        var adapters = new List<(LoraAdapter, float)>();
        try
        {
            if (first is not null)
                adapters.Add((LoraAdapter.Open(Fixtures.File("lora", $"lora-{first}.gguf"), model), firstScale));
            if (second is string s)
                adapters.Add((LoraAdapter.Open(Fixtures.File("lora", $"lora-{s}.gguf"), model), secondScale));
            var set = new LoraSet(adapters);
            var worst = MaxTopKDifference(model, set, reference, out var argmaxMismatches);
            Assert.True(worst <= tolerance, $"max |Δlogit| {worst} > {tolerance}");
            Assert.Equal(0, argmaxMismatches);

            // And the adapters really change the model: the base model's logits are far from these.
            var baseWorst = MaxTopKDifference(model, null, reference, out _);
            Assert.True(baseWorst > 100 * tolerance, $"base model within {baseWorst} of the adapted reference");
        }
        finally
        {
            foreach (var (a, _) in adapters)
                a.Dispose();
        }
    }

    [Fact]
    public void AdapterForAnotherModelShapeIsRejectedNamingTensorAndShapes()
    {
        using var model = TransformerModel.Load(Fixtures.File("llama-spm", "llama-spm-F32.gguf"));
        var dir = Directory.CreateTempSubdirectory("hearth-lora-");
        try
        {
            var path = Path.Combine(dir.FullName, "bad.gguf");
            var w = new GgufWriter();
            w.SetMetadata("general.architecture", GgufValue.FromString("llama"));
            w.SetMetadata("adapter.type", GgufValue.FromString("lora"));
            w.AddTensor("blk.0.attn_q.weight.lora_a", GgmlType.F32, [32, 4], new byte[32 * 4 * 4]);
            w.AddTensor("blk.0.attn_q.weight.lora_b", GgmlType.F32, [4, 64], new byte[4 * 64 * 4]);
            w.WriteTo(path);
            var e = Assert.Throws<ModelLoadException>(() => LoraAdapter.Open(path, model));
            Assert.Contains("blk.0.attn_q.weight.lora_a", e.Message, StringComparison.Ordinal);
            Assert.Contains("[64, 4]", e.Message, StringComparison.Ordinal);

            var notLora = Path.Combine(dir.FullName, "model.gguf");
            File.Copy(Base, notLora);
            var e2 = Assert.Throws<ModelLoadException>(() => LoraAdapter.Open(notLora, model));
            Assert.Contains("adapter.type", e2.Message, StringComparison.Ordinal);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task ChatClientSwitchesAdaptersPerRequestWithoutReloading()
    {
        using var client = EngineChatClient.Open(Base, new EngineOptions
        {
            Threads = 1,
            AdapterFiles = new Dictionary<string, string> { ["healthcare"] = Fixtures.File("lora", "lora-healthcare.gguf") },
        });
        Assert.Equal(["healthcare"], client.AdapterNames);
        var prompt = new[] { new ChatMessage(ChatRole.User, "The patient") };
        ChatOptions Options(string? adapter) => new()
        {
            Temperature = 0,
            MaxOutputTokens = 12,
            AdditionalProperties = new AdditionalPropertiesDictionary
            {
                [EngineChatOptionKeys.RawPrompt] = true,
                [EngineChatOptionKeys.Adapter] = adapter,
            },
        };
        var plain = (await client.GetResponseAsync(prompt, Options(null))).Text;
        var adapted = (await client.GetResponseAsync(prompt, Options("healthcare"))).Text;
        var plainAgain = (await client.GetResponseAsync(prompt, Options(""))).Text;
        Assert.NotEqual(plain, adapted);
        Assert.Equal(plain, plainAgain);
        var e = await Assert.ThrowsAsync<ArgumentException>(() => client.GetResponseAsync(prompt, Options("finance")));
        Assert.Contains("finance", e.Message, StringComparison.Ordinal);
        Assert.Contains("healthcare", e.Message, StringComparison.Ordinal);
    }

    private static float MaxTopKDifference(TransformerModel model, LoraSet? set, ReferenceVectors reference, out int argmaxMismatches)
    {
        var maxRows = reference.Eval.Max(e => e.Tokens.Length);
        using var session = new InferenceSession(model, new SessionOptions { ContextLength = 512, LogitRows = maxRows, Threads = 1, Adapters = set });
        var vocab = model.Config.VocabSize;
        float worst = 0;
        argmaxMismatches = 0;
        foreach (var e in reference.Eval)
        {
            session.Rewind(0);
            var logits = session.Evaluate(e.Tokens, allPositions: true).ToArray();
            for (var i = 0; i < e.Tokens.Length; i++)
            {
                var row = logits.AsSpan(i * vocab, vocab);
                var top = e.Positions[i];
                for (var j = 0; j < top.Ids.Length; j++)
                    worst = Math.Max(worst, Math.Abs(row[top.Ids[j]] - top.Logits[j]));
                var best = 0;
                for (var k = 1; k < vocab; k++)
                {
                    if (row[k] > row[best])
                        best = k;
                }
                if (top.Margin > 1e-3f && best != top.Ids[0])
                    argmaxMismatches++;
            }
        }
        return worst;
    }
}
