namespace Hearth.Engine.Sampling;

/// <summary>
/// Chooses tokens from logits per <see cref="SamplingOptions"/>. All scratch space is allocated once
/// (vocabulary-sized), so sampling a token allocates nothing. One sampler per sequence: it holds the
/// random state.
/// </summary>
internal sealed class Sampler
{
    private readonly SamplingOptions _options;
    private readonly float[] _logits;
    private readonly int[] _ids;
    private readonly float[] _values;
    private readonly int[] _counts;
    private readonly int _vocab;
    private readonly int[] _biasTokens;
    private readonly float[] _biasValues;
    private ulong _s0, _s1, _s2, _s3;

    public Sampler(SamplingOptions options, int vocabSize)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(vocabSize, 1);
        options.Validate();
        _options = options;
        _vocab = vocabSize;
        _logits = new float[vocabSize];
        _ids = new int[vocabSize];
        _values = new float[vocabSize];
        _counts = new int[vocabSize];
        _biasTokens = options.LogitBias is { } bias ? [.. bias.Keys] : [];
        _biasValues = options.LogitBias is { } values ? [.. _biasTokens.Select(t => values[t])] : [];
        foreach (var t in _biasTokens)
        {
            if (t >= vocabSize)
#pragma warning disable CA2208 // the value at fault is the options' LogitBias, named as SamplingOptions.Validate names it
                throw new ArgumentOutOfRangeException(nameof(SamplingOptions.LogitBias), $"Logit bias for token {t}: the vocabulary has {vocabSize} tokens (0..{vocabSize - 1}).");
#pragma warning restore CA2208
        }
        var seed = options.Seed ?? (ulong)Random.Shared.NextInt64();
        // xoshiro256** seeded through splitmix64: the same seed gives the same draws on every platform and .NET version.
        _s0 = SplitMix(ref seed);
        _s1 = SplitMix(ref seed);
        _s2 = SplitMix(ref seed);
        _s3 = SplitMix(ref seed);
    }

    /// <summary>The options.</summary>
    public SamplingOptions Options => _options;

    /// <summary>Picks the next token from <paramref name="logits"/> given the tokens so far (<paramref name="history"/>, for penalties).</summary>
    public int Sample(ReadOnlySpan<float> logits, ReadOnlySpan<int> history)
    {
        if (logits.Length != _vocab)
            throw new ArgumentException($"Expected {_vocab} logits, got {logits.Length}.", nameof(logits));
        var o = _options;
        var x = _logits.AsSpan();
        logits.CopyTo(x);
        for (var i = 0; i < _biasTokens.Length; i++)
            x[_biasTokens[i]] += _biasValues[i];
        ApplyPenalties(x, history);

        if (o.Temperature <= 0)
            return ArgMax(x);

        // Candidates: the top k (or all), sorted by logit, descending.
        var n = o.TopK > 0 && o.TopK < _vocab ? SelectTopK(x, o.TopK) : SortAll(x);
        var ids = _ids.AsSpan(0, n);
        var v = _values.AsSpan(0, n);

        // top-p and min-p on the softmax of the (penalised) logits, before temperature, as llama.cpp does.
        if (o.TopP < 1f)
        {
            Softmax(v, _logits, ids, 1f);
            double cum = 0;
            var keep = n;
            for (var i = 0; i < n; i++)
            {
                cum += v[i];
                if (cum >= o.TopP)
                {
                    keep = i + 1;
                    break;
                }
            }
            n = keep;
        }
        if (o.MinP > 0f && n > 1)
        {
            var threshold = x[ids[0]] + MathF.Log(o.MinP);
            var keep = 1;
            while (keep < n && x[ids[keep]] >= threshold)
                keep++;
            n = keep;
        }
        ids = ids[..n];
        v = v[..n];
        Softmax(v, _logits, ids, 1f / o.Temperature);
        var r = NextDouble();
        double acc = 0;
        var last = 0;
        for (var i = 0; i < n; i++)
        {
            if (!(v[i] > 0))
                continue; // no chance (a banned or masked token)
            acc += v[i];
            last = i;
            if (r < acc)
                return ids[i];
        }
        // Rounding left the sum just under 1 and the draw above it: the last candidate with a chance, not one without.
        return ids[last];
    }

    /// <summary>Index of the largest value (lowest index on ties).</summary>
    public static int ArgMax(ReadOnlySpan<float> x)
    {
        var best = 0;
        for (var i = 1; i < x.Length; i++)
        {
            if (x[i] > x[best])
                best = i;
        }
        return best;
    }

    private void ApplyPenalties(Span<float> x, ReadOnlySpan<int> history)
    {
        var o = _options;
        if (o.PenaltyLastN == 0 || history.IsEmpty || (o.RepetitionPenalty == 1f && o.FrequencyPenalty == 0f && o.PresencePenalty == 0f))
            return;
        var recent = o.PenaltyLastN < 0 || o.PenaltyLastN >= history.Length ? history : history[^o.PenaltyLastN..];
        foreach (var t in recent)
        {
            if ((uint)t < (uint)_vocab)
                _counts[t]++;
        }
        foreach (var t in recent)
        {
            if ((uint)t >= (uint)_vocab || _counts[t] == 0)
                continue;
            var c = _counts[t];
            _counts[t] = 0; // each distinct token once
            var l = x[t];
            l = l > 0 ? l / o.RepetitionPenalty : l * o.RepetitionPenalty;
            x[t] = l - c * o.FrequencyPenalty - o.PresencePenalty;
        }
    }

    // Keeps the k largest in a min-heap of (value, id), then sorts them descending (ties: lower id first).
    private int SelectTopK(ReadOnlySpan<float> x, int k)
    {
        var ids = _ids;
        var v = _values;
        var size = 0;
        for (var i = 0; i < x.Length; i++)
        {
            if (size < k)
            {
                ids[size] = i;
                v[size] = x[i];
                SiftUp(size++);
            }
            else if (x[i] > v[0])
            {
                ids[0] = i;
                v[0] = x[i];
                SiftDown(0, size);
            }
        }
        SortDescending(size);
        return size;
    }

    private int SortAll(ReadOnlySpan<float> x)
    {
        for (var i = 0; i < x.Length; i++)
        {
            _ids[i] = i;
            _values[i] = x[i];
        }
        SortDescending(x.Length);
        return x.Length;
    }

    private void SortDescending(int n)
    {
        // Negate so the ascending sort gives descending logits; the key sort keeps ids paired.
        for (var i = 0; i < n; i++)
            _values[i] = -_values[i];
        Array.Sort(_values, _ids, 0, n);
        for (var i = 0; i < n; i++)
            _values[i] = -_values[i];
        // Ties: lower id first (llama.cpp's order), fixed with a pass over equal runs.
        for (var i = 0; i < n;)
        {
            var j = i + 1;
            while (j < n && _values[j] == _values[i])
                j++;
            if (j - i > 1)
                Array.Sort(_ids, i, j - i);
            i = j;
        }
    }

    // Heap ordered by (value ascending, id descending): the root is the weakest candidate.
    private bool Weaker(int a, int b) => _values[a] < _values[b] || (_values[a] == _values[b] && _ids[a] > _ids[b]);

    private void SiftUp(int i)
    {
        while (i > 0)
        {
            var p = (i - 1) / 2;
            if (!Weaker(i, p))
                break;
            Swap(i, p);
            i = p;
        }
    }

    private void SiftDown(int i, int size)
    {
        while (true)
        {
            var l = 2 * i + 1;
            var m = i;
            if (l < size && Weaker(l, m))
                m = l;
            if (l + 1 < size && Weaker(l + 1, m))
                m = l + 1;
            if (m == i)
                return;
            Swap(i, m);
            i = m;
        }
    }

    private void Swap(int a, int b)
    {
        (_ids[a], _ids[b]) = (_ids[b], _ids[a]);
        (_values[a], _values[b]) = (_values[b], _values[a]);
    }

    // p[i] = softmax(logits[ids[i]] * invTemperature) over the candidates.
    private static void Softmax(Span<float> p, float[] logits, ReadOnlySpan<int> ids, float invTemperature)
    {
        var max = logits[ids[0]] * invTemperature;
        for (var i = 1; i < ids.Length; i++)
            max = MathF.Max(max, logits[ids[i]] * invTemperature);
        double sum = 0;
        for (var i = 0; i < ids.Length; i++)
        {
            p[i] = MathF.Exp(logits[ids[i]] * invTemperature - max);
            sum += p[i];
        }
        var inv = (float)(1 / sum);
        for (var i = 0; i < ids.Length; i++)
            p[i] *= inv;
    }

    private double NextDouble() => (Next() >> 11) * (1.0 / (1UL << 53));

    private ulong Next()
    {
        var result = ulong.RotateLeft(_s1 * 5, 7) * 9;
        var t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = ulong.RotateLeft(_s3, 45);
        return result;
    }

    private static ulong SplitMix(ref ulong state)
    {
        var z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
