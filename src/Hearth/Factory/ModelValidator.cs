using Hearth.Engine.Model;
using Hearth.Engine.Tokenization;

namespace Hearth.Factory;

/// <summary>Limits <c>--validate</c> enforces; null = not checked.</summary>
/// <param name="MaxMeanKl">Largest acceptable mean KL divergence against the reference.</param>
/// <param name="MinTop1Percent">Smallest acceptable top-1 agreement with the reference, in percent.</param>
/// <param name="MaxPerplexityRatio">Largest acceptable PPL(model) / PPL(reference).</param>
internal sealed record ValidationThresholds(double? MaxMeanKl, double? MinTop1Percent, double? MaxPerplexityRatio)
{
    /// <summary>Whether any limit is set.</summary>
    public bool Any => MaxMeanKl is not null || MinTop1Percent is not null || MaxPerplexityRatio is not null;
}

/// <summary>Perplexity of a model on a text, computed as <c>llama-perplexity</c> does.</summary>
/// <param name="Context">Context size (tokens per chunk).</param>
/// <param name="Chunks">Chunks evaluated.</param>
/// <param name="ScoredTokens">Tokens scored (the second half of every chunk).</param>
/// <param name="Perplexity">exp(mean negative log-likelihood).</param>
/// <param name="Uncertainty">llama-perplexity's ± (PPL · standard error of the mean nll).</param>
/// <param name="Cumulative">Cumulative perplexity after each chunk (what llama-perplexity prints as [k]).</param>
internal sealed record PerplexityResult(int Context, int Chunks, int ScoredTokens, double Perplexity, double Uncertainty, IReadOnlyList<double> Cumulative);

/// <summary>How a model's token distributions compare with a reference model's on the same text.</summary>
/// <param name="MeanKl">Mean KL(reference ‖ model) over scored tokens (float64 softmaxes).</param>
/// <param name="KlUncertainty">Standard error of that mean.</param>
/// <param name="MaxKl">Largest per-token KL divergence.</param>
/// <param name="Top1Percent">Percentage of scored positions where both models' most likely token is the same.</param>
/// <param name="Reference">The reference model's perplexity on the text.</param>
internal sealed record DivergenceResult(double MeanKl, double KlUncertainty, double MaxKl, double Top1Percent, PerplexityResult Reference);

/// <summary>One smoke prompt and what the model continued it with (greedy).</summary>
/// <param name="Prompt">The prompt.</param>
/// <param name="Continuation">The generated text.</param>
internal sealed record SmokeResult(string Prompt, string Continuation);

/// <summary>Everything <c>hearth factory validate</c> measured.</summary>
/// <param name="Smoke">Smoke prompts and continuations.</param>
/// <param name="Perplexity">Perplexity on the text (null without one).</param>
/// <param name="Divergence">Comparison with the reference (null without one).</param>
/// <param name="Failures">Thresholds missed, one line each.</param>
internal sealed record ValidationReport(IReadOnlyList<SmokeResult> Smoke, PerplexityResult? Perplexity, DivergenceResult? Divergence, IReadOnlyList<string> Failures);

/// <summary>
/// Judges a (quantized, merged) model the way people judge llama.cpp quantizations: smoke prompts, perplexity on a
/// text with llama-perplexity's method (chunks of the context size, each starting with BOS from an empty cache, the
/// second half scored), and against a reference model the KL divergence and top-1 agreement of the next-token
/// distributions on the same positions. Logits come from Hearth's engine with an F32 KV cache.
/// </summary>
internal static class ModelValidator
{
    /// <summary>Smoke prompts: short, generic, any vocabulary can encode them.</summary>
    public static IReadOnlyList<string> SmokePrompts { get; } = ["Once upon a time", "The capital of France is"];

    /// <summary>Runs the checks; <paramref name="text"/> and <paramref name="referencePath"/> are optional.</summary>
    /// <exception cref="ArgumentException">The text is too short for the context, or the models' vocabularies differ.</exception>
    public static ValidationReport Validate(string modelPath, string? referencePath, string? text, int context, ValidationThresholds? thresholds = null,
        int threads = 0, int smokeTokens = 16, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelPath);
        ArgumentOutOfRangeException.ThrowIfLessThan(context, 4);
        using var model = TransformerModel.Load(modelPath);
        var tokenizer = Tokenizer.FromGguf(model.File);
        var smoke = RunSmoke(model, tokenizer, smokeTokens, threads, cancellationToken);

        PerplexityResult? ppl = null;
        DivergenceResult? kl = null;
        if (text is not null)
        {
            var tokens = tokenizer.Encode(text, addSpecial: true, parseSpecial: false);
            if (referencePath is null)
            {
                ppl = Score(model, null, tokenizer, tokens, context, threads, cancellationToken).Model;
            }
            else
            {
                using var reference = TransformerModel.Load(referencePath);
                if (reference.Config.VocabSize != model.Config.VocabSize)
                    throw new ArgumentException($"The reference has {reference.Config.VocabSize} tokens in its vocabulary, the model {model.Config.VocabSize}; they cannot be compared.", nameof(referencePath));
                var scored = Score(model, reference, tokenizer, tokens, context, threads, cancellationToken);
                ppl = scored.Model;
                kl = scored.Divergence;
            }
        }

        var failures = new List<string>();
        if (thresholds is { Any: true })
        {
            if (kl is null)
                throw new ArgumentException("Validation thresholds need a reference model and a text (--reference, --text).", nameof(thresholds));
            if (thresholds.MaxMeanKl is { } maxKl && kl.MeanKl > maxKl)
                failures.Add($"mean KL divergence {kl.MeanKl:0.######} exceeds {maxKl}");
            if (thresholds.MinTop1Percent is { } minTop && kl.Top1Percent < minTop)
                failures.Add($"top-1 agreement {kl.Top1Percent:0.###}% is below {minTop}%");
            if (thresholds.MaxPerplexityRatio is { } maxRatio && ppl!.Perplexity / kl.Reference.Perplexity > maxRatio)
                failures.Add($"perplexity ratio {ppl.Perplexity / kl.Reference.Perplexity:0.####} exceeds {maxRatio}");
        }
        return new ValidationReport(smoke, ppl, kl, failures);
    }

    private static List<SmokeResult> RunSmoke(TransformerModel model, Tokenizer tokenizer, int count, int threads, CancellationToken cancellationToken)
    {
        var results = new List<SmokeResult>();
        if (count <= 0)
            return results;
        using var session = new InferenceSession(model, new SessionOptions { ContextLength = 256, Threads = threads });
        foreach (var prompt in SmokePrompts)
        {
            cancellationToken.ThrowIfCancellationRequested();
            session.Rewind(0);
            var tokens = tokenizer.Encode(prompt, addSpecial: true);
            var decoder = tokenizer.CreateDecoder();
            var text = new System.Text.StringBuilder();
            var logits = session.Evaluate(tokens);
            for (var i = 0; i < count && session.Position < session.ContextLength; i++)
            {
                var next = ArgMax(logits, out var finite);
                if (!finite)
                    throw new InvalidDataException($"The model produced a non-finite logit for the prompt \"{prompt}\".");
                text.Append(decoder.Append(next));
                logits = session.Evaluate([next]);
            }
            text.Append(decoder.Flush());
            results.Add(new SmokeResult(prompt, text.ToString()));
        }
        return results;
    }

    private static int ArgMax(ReadOnlySpan<float> logits, out bool finite)
    {
        var best = 0;
        finite = true;
        for (var i = 0; i < logits.Length; i++)
        {
            if (!float.IsFinite(logits[i]))
                finite = false;
            if (logits[i] > logits[best])
                best = i;
        }
        return best;
    }

    private static (PerplexityResult Model, DivergenceResult? Divergence) Score(TransformerModel model, TransformerModel? reference, Tokenizer tokenizer,
        int[] tokens, int context, int threads, CancellationToken cancellationToken)
    {
        if (tokens.Length < 2 * context)
            throw new ArgumentException($"The text has {tokens.Length} tokens; a context of {context} needs at least {2 * context}.", nameof(tokens));
        var chunks = tokens.Length / context;
        var first = context / 2;
        var vocab = model.Config.VocabSize;
        var options = new SessionOptions { ContextLength = context, BatchSize = context, LogitRows = context, Threads = threads };
        using var session = new InferenceSession(model, options);
        using var refSession = reference is null ? null : new InferenceSession(reference, options);

        var acc = new NllAccumulator();
        var refAcc = new NllAccumulator();
        double klSum = 0, kl2Sum = 0, klMax = 0;
        var same = 0;
        var chunk = new int[context];
        var refLogits = reference is null ? [] : new float[context * vocab];
        var cumulative = new List<double>(chunks);
        var refCumulative = new List<double>(chunks);
        for (var c = 0; c < chunks; c++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Array.Copy(tokens, c * context, chunk, 0, context);
            if (tokenizer.AddBos)
                chunk[0] = tokenizer.Bos;
            if (refSession is not null)
            {
                refSession.Rewind(0);
                refSession.Evaluate(chunk, allPositions: true).CopyTo(refLogits);
            }
            session.Rewind(0);
            var logits = session.Evaluate(chunk, allPositions: true);
            for (var j = first; j < context - 1; j++)
            {
                var target = tokens[c * context + j + 1];
                var row = logits.Slice(j * vocab, vocab);
                acc.Add(NegativeLogLikelihood(row, target));
                if (refSession is not null)
                {
                    var refRow = refLogits.AsSpan(j * vocab, vocab);
                    refAcc.Add(NegativeLogLikelihood(refRow, target));
                    var kl = KlDivergence(refRow, row);
                    klSum += kl;
                    kl2Sum += kl * kl;
                    klMax = Math.Max(klMax, kl);
                    if (ArgMax(refRow, out _) == ArgMax(row, out _))
                        same++;
                }
            }
            cumulative.Add(Math.Exp(acc.Sum / acc.Count));
            if (refSession is not null)
                refCumulative.Add(Math.Exp(refAcc.Sum / refAcc.Count));
        }

        var result = acc.Result(context, chunks, cumulative);
        if (refSession is null)
            return (result, null);
        var n = acc.Count;
        var mean = klSum / n;
        var variance = kl2Sum / n - mean * mean;
        var se = n > 1 && variance > 0 ? Math.Sqrt(variance / (n - 1)) : 0;
        return (result, new DivergenceResult(mean, se, klMax, 100.0 * same / n, refAcc.Result(context, chunks, refCumulative)));
    }

    /// <summary>
    /// −log p(target) as llama-perplexity computes it: float maximum, float exponentials summed in double,
    /// double logarithm.
    /// </summary>
    public static double NegativeLogLikelihood(ReadOnlySpan<float> logits, int target)
    {
        var max = logits[0];
        for (var i = 1; i < logits.Length; i++)
            max = MathF.Max(max, logits[i]);
        double sum = 0;
        foreach (var l in logits)
            sum += MathF.Exp(l - max);
        return -((logits[target] - max) - Math.Log(sum));
    }

    /// <summary>KL(p ‖ q) of the softmaxes of two logit vectors, in float64.</summary>
    public static double KlDivergence(ReadOnlySpan<float> p, ReadOnlySpan<float> q)
    {
        var lp = LogSumExp(p, out var pMax);
        var lq = LogSumExp(q, out var qMax);
        double kl = 0;
        for (var i = 0; i < p.Length; i++)
        {
            var logP = p[i] - pMax - lp;
            var logQ = q[i] - qMax - lq;
            kl += Math.Exp(logP) * (logP - logQ);
        }
        return kl;
    }

    private static double LogSumExp(ReadOnlySpan<float> x, out double max)
    {
        max = double.NegativeInfinity;
        foreach (var v in x)
            max = Math.Max(max, v);
        double sum = 0;
        foreach (var v in x)
            sum += Math.Exp(v - max);
        return Math.Log(sum);
    }

    private sealed class NllAccumulator
    {
        public double Sum { get; private set; }

        public double SumSquares { get; private set; }

        public int Count { get; private set; }

        public void Add(double nll)
        {
            Sum += nll;
            SumSquares += nll * nll;
            Count++;
        }

        // llama-perplexity: PPL = exp(mean), ± PPL·sqrt((mean(nll²) − mean²)/(count − 1)).
        public PerplexityResult Result(int context, int chunks, IReadOnlyList<double> cumulative)
        {
            var mean = Sum / Count;
            var ppl = Math.Exp(mean);
            var variance = SumSquares / Count - mean * mean;
            var err = Count > 1 && variance > 0 ? ppl * Math.Sqrt(variance / (Count - 1)) : 0;
            return new PerplexityResult(context, chunks, Count, ppl, err, cumulative);
        }
    }
}
