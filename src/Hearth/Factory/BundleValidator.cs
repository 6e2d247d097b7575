using Hearth.Engine.Generation;
using Hearth.Engine.Model;
using EngineLora = Hearth.Engine.Model.LoraAdapter;
using Hearth.Engine.Tokenization;

namespace Hearth.Factory;

/// <summary>One domain's check: how far its adapter moves the logits from the base on the smoke prompts, and a greedy answer.</summary>
public sealed record BundleDomainCheck(string Domain, bool HasAdapter, double MaxLogitDelta, string Smoke, bool Ok, string? Problem);

/// <summary>The result of <see cref="BundleValidator.Validate"/>.</summary>
public sealed record BundleValidation(IReadOnlyList<BundleDomainCheck> Domains)
{
    /// <summary>Whether every domain passed.</summary>
    public bool Ok => Domains.All(d => d.Ok);
}

/// <summary>
/// Loads a bundle once and, for each domain, runs the smoke prompts with that domain's adapter (hot-swapped per
/// session, as requests do) against the base: finite logits everywhere, and an adapter that moves the logits by more than
/// a threshold (an adapter whose tensors were lost or never applied changes nothing).
/// </summary>
public static class BundleValidator
{
    /// <summary>Validates <paramref name="bundlePath"/>.</summary>
    public static BundleValidation Validate(string bundlePath, double minDelta = 1e-3, int smokeTokens = 8)
    {
        ArgumentException.ThrowIfNullOrEmpty(bundlePath);
        using var model = TransformerModel.Load(bundlePath);
        if (!BundleFormat.IsBundle(model.File))
            throw new InvalidDataException($"{bundlePath}: not a Hearth bundle (no {BundleFormat.VersionKey}).");
        var tokenizer = Tokenizer.FromGguf(model.File);
        var prompts = ModelValidator.SmokePrompts.Select(p => tokenizer.Encode(p, addSpecial: true, parseSpecial: false).ToArray()).ToList();
        var baseLogits = prompts.Select(p => Logits(model, null, p)).ToList();
        var checks = new List<BundleDomainCheck>();
        var meta = model.File.Metadata;
        foreach (var domain in BundleFormat.Domains(model.File))
        {
            var hasAdapter = BundleFormat.HasAdapter(model.File, domain);
            EngineLora? adapter = null;
            try
            {
                LoraSet? set = null;
                if (hasAdapter)
                {
                    adapter = EngineLora.FromModelFile(model, domain, BundleFormat.TensorPrefix(domain), meta.GetSingle(BundleFormat.DomainKey(domain, "alpha")) ?? 0f);
                    set = new LoraSet([(adapter, meta.GetSingle(BundleFormat.DomainKey(domain, "scale")) ?? 1f)]);
                }
                double delta = 0;
                var finite = true;
                for (var i = 0; i < prompts.Count; i++)
                {
                    var logits = set is null ? baseLogits[i] : Logits(model, set, prompts[i]);
                    for (var k = 0; k < logits.Length; k++)
                    {
                        finite &= float.IsFinite(logits[k]);
                        delta = Math.Max(delta, Math.Abs(logits[k] - baseLogits[i][k]));
                    }
                }
                var smoke = Generate(model, tokenizer, set, prompts[0], smokeTokens);
                string? problem = !finite ? "non-finite logits"
                    : hasAdapter && delta <= minDelta ? $"the adapter moves no logit by more than {minDelta} (max {delta:G3})"
                    : null;
                checks.Add(new BundleDomainCheck(domain, hasAdapter, delta, smoke, problem is null, problem));
            }
            catch (ModelLoadException e)
            {
                checks.Add(new BundleDomainCheck(domain, hasAdapter, 0, "", false, e.Message));
            }
            finally
            {
                adapter?.Dispose();
            }
        }
        return new BundleValidation(checks);
    }

    private static float[] Logits(TransformerModel model, LoraSet? set, int[] prompt)
    {
        using var session = new InferenceSession(model, new SessionOptions { ContextLength = Math.Max(16, prompt.Length), Threads = 1, Adapters = set });
        return session.Evaluate(prompt).ToArray();
    }

    private static string Generate(TransformerModel model, Tokenizer tokenizer, LoraSet? set, int[] prompt, int count)
    {
        var generator = new TextGenerator(model, tokenizer, 1);
        var result = generator.Generate(prompt, new GenerationOptions { MaxTokens = count, Adapters = set });
        return result.Text;
    }
}
