using Hearth.Tests.Shared;
using Hearth.Engine.Model;
using Xunit.Abstractions;

namespace Hearth.Engine.Tests.Model;

/// <summary>
/// The forward pass against llama.cpp's logits for every model fixture: every prompt position (top-32),
/// full last-position vectors, and greedy continuations up to the first step whose reference
/// top-1/top-2 margin is below the tolerance (issue 4, "Done when").
/// Quantized activations make single rounding flips possible (an element an ulp away from a .5 boundary
/// lands on the other side; the fixtures README measures up to 0.16 between two llama.cpp builds): a
/// position whose logits exceed <c>tolerance</c> but stay within <c>flipTolerance</c> counts as a flip,
/// and at most 2% of positions (and greedy steps) may be flips. Everything beyond is a failure.
/// </summary>
public sealed class ForwardParityTests(ITestOutputHelper output)
{
    public static TheoryData<string, string, float, float> Fixtures => new()
    {
        { "models", "stories260K", 1e-4f, 1e-4f },
        { "llama-spm", "llama-spm-F32", 1e-4f, 1e-4f },
        { "qwen2", "qwen2-F32_embQ4_0", 1e-4f, 0.05f },
        { "qwen3", "qwen3-F32_embQ4_0", 1e-4f, 0.05f },
        { "llama-bpe", "llama-bpe-F32_embQ4_0_outQ4_0", 1e-4f, 0.05f },
        { "llama-spm", "llama-spm-F16", 0.05f, 0.05f },
        // A single activation-rounding flip moves logits by up to ~0.1 here (one was measured at 0.068 in a Q6_K
        // greedy step); the fixtures README measures 0.16 between two llama.cpp runs (repacking on/off).
        { "llama-spm", "llama-spm-Q8_0", 1e-3f, 0.1f },
        { "llama-spm", "llama-spm-Q6_K", 1e-3f, 0.1f },
        { "llama-spm", "llama-spm-Q4_0", 0.5f, 0.5f },
        { "llama-spm", "llama-spm-Q4_K_M", 0.5f, 0.5f },
        { "llama-spm", "llama-spm-Q5_K_M", 0.5f, 0.5f },
    };

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void LogitsMatchLlamaCpp(string folder, string name, float tolerance, float flipTolerance)
    {
        var reference = ReferenceVectors.Load(Hearth.Tests.Shared.Fixtures.File(folder, name + ".json"));
        using var model = TransformerModel.Load(Hearth.Tests.Shared.Fixtures.File(folder, name + ".gguf"));
        var maxRows = reference.Eval.Max(e => e.Tokens.Length);
        using var session = new InferenceSession(model, new SessionOptions { ContextLength = 512, LogitRows = maxRows, Threads = 2 });
        var vocab = model.Config.VocabSize;
        float maxPrompt = 0, maxLast = 0, maxGreedy = 0;
        int positions = 0, greedyCompared = 0, greedyOff = 0, flips = 0, steps = 0;
        var failures = new List<string>();

        foreach (var e in reference.Eval)
        {
            session.Rewind(0);
            var logits = session.Evaluate(e.Tokens, allPositions: true).ToArray();
            Assert.Equal(e.Positions.Length, e.Tokens.Length);
            for (var i = 0; i < e.Tokens.Length; i++)
            {
                var row = logits.AsSpan(i * vocab, vocab);
                var top = e.Positions[i];
                float positionMax = 0;
                for (var j = 0; j < top.Ids.Length; j++)
                {
                    var d = Math.Abs(row[top.Ids[j]] - top.Logits[j]);
                    maxPrompt = Math.Max(maxPrompt, d);
                    positionMax = Math.Max(positionMax, d);
                    if (d > flipTolerance)
                        failures.Add($"'{e.Id}' position {i} token {top.Ids[j]}: {row[top.Ids[j]]} vs llama.cpp {top.Logits[j]} (|Δ| {d:G3})");
                }
                if (positionMax > tolerance)
                    flips++;
                if (top.Margin > tolerance && top.Ids[0] != ArgMax(row))
                    failures.Add($"'{e.Id}' position {i}: argmax {ArgMax(row)} vs llama.cpp {top.Ids[0]} (margin {top.Margin})");
                positions++;
                if (e.AllLogits is { } all)
                    maxLast = Math.Max(maxLast, MaxAbsDiff(row, all[i], failures, e.Id, flipTolerance));
            }
            if (e.LastLogits is { } last)
                maxLast = Math.Max(maxLast, MaxAbsDiff(logits.AsSpan((e.Tokens.Length - 1) * vocab, vocab), last, failures, e.Id, flipTolerance));

            // Greedy: feed llama.cpp's own tokens and compare each step until the reference margin gets too small.
            var lastTop = e.Positions[^1];
            if (lastTop.Margin <= tolerance)
                continue;
            if (e.GreedyTokens[0] != ArgMax(logits.AsSpan((e.Tokens.Length - 1) * vocab, vocab)))
            {
                failures.Add($"'{e.Id}' first greedy token differs");
                continue;
            }
            for (var s = 0; s < e.GreedySteps.Length; s++)
            {
                var step = e.GreedySteps[s];
                var row = session.Evaluate([e.GreedyTokens[s]]);
                float stepMax = 0;
                for (var j = 0; j < step.Ids.Length; j++)
                {
                    var d = Math.Abs(row[step.Ids[j]] - step.Logits[j]);
                    maxGreedy = Math.Max(maxGreedy, d);
                    if (d > flipTolerance)
                        failures.Add($"'{e.Id}' greedy step {s} token {step.Ids[j]}: {row[step.Ids[j]]} vs llama.cpp {step.Logits[j]} (|Δ| {d:G3})");
                    stepMax = Math.Max(stepMax, d);
                }
                if (stepMax > tolerance)
                    greedyOff++;
                if (step.Margin <= tolerance)
                    break;
                if (e.GreedyTokens[s + 1] != ArgMax(row))
                {
                    failures.Add($"'{e.Id}' greedy step {s}: token {ArgMax(row)} vs llama.cpp {e.GreedyTokens[s + 1]} (margin {step.Margin})");
                    break;
                }
                greedyCompared++;
                steps++;
            }
        }
        var summary = $"{name}: max |Δlogit| prompt top-32 {maxPrompt:G3}, full vectors {maxLast:G3}, greedy steps {maxGreedy:G3} "
            + $"; beyond {tolerance}: {flips} of {positions} positions, {greedyOff} of {steps} greedy steps; {greedyCompared} greedy tokens equal";
        output.WriteLine(summary);
        Assert.True(positions > 0);
        if (flips > positions / 50)
            failures.Add($"{flips} positions beyond {tolerance} (at most {positions / 50} isolated flips allowed)");
        if (greedyOff > Math.Max(1, steps / 50))
            failures.Add($"{greedyOff} greedy steps beyond {tolerance}");
        Assert.True(failures.Count == 0, summary + "\n" + string.Join("\n", failures.Take(20)) + $"\n({failures.Count} failures)");
    }

    [Fact]
    public void Stories260KGreedyReproducesLlamaCppText()
    {
        var reference = ReferenceVectors.Load(Hearth.Tests.Shared.Fixtures.File("models", "stories260K.json"));
        var once = reference.Eval.Single(e => e.Id == "once_upon");
        using var model = TransformerModel.Load(Hearth.Tests.Shared.Fixtures.File("models", "stories260K.gguf"));
        using var session = new InferenceSession(model, new SessionOptions { ContextLength = 512, Threads = 1 });
        var generated = new List<int>();
        var logits = session.Evaluate(once.Tokens);
        for (var i = 0; i < 48; i++)
        {
            var next = ArgMax(logits);
            generated.Add(next);
            logits = session.Evaluate([next]);
        }
        Assert.Equal(once.GreedyTokens.Take(48), generated);

        // Decode with the model's own SentencePiece pieces (▁ = space) and compare with llama-simple's output.
        var pieces = model.File.Metadata.Tokens!.GetStrings();
        var text = string.Concat(once.Tokens.Skip(1).Concat(generated).Select(t => pieces[t])).Replace('\u2581', ' ');
        var expected = File.ReadAllText(Hearth.Tests.Shared.Fixtures.File("models", "stories260K.llama-simple-n48.txt")).TrimEnd('\n');
        Assert.Equal(expected, "<s>" + text);
    }

    internal static int ArgMax(ReadOnlySpan<float> x)
    {
        var best = 0;
        for (var i = 1; i < x.Length; i++)
        {
            if (x[i] > x[best])
                best = i;
        }
        return best;
    }

    private static float MaxAbsDiff(ReadOnlySpan<float> ours, float[] reference, List<string> failures, string id, float tolerance)
    {
        Assert.Equal(reference.Length, ours.Length);
        float max = 0;
        for (var i = 0; i < ours.Length; i++)
            max = Math.Max(max, Math.Abs(ours[i] - reference[i]));
        if (max > tolerance)
            failures.Add($"'{id}': full logit vector differs by {max:G3}");
        return max;
    }
}
