using System.Globalization;
using System.Numerics.Tensors;
using Hearth.Configuration;
using Hearth.Privacy;
using Microsoft.Extensions.AI;

namespace Hearth.Routing;

/// <summary>
/// Picks the domain, and so the local model, for a query. Built once from a <see cref="HearthConfig"/> (its
/// <c>domains</c>, or <see cref="DefaultDomains"/> when there are none); every decision after that is a few
/// microseconds of lookups and arithmetic, deterministic, and safe to call from many threads.
/// <para>
/// Order of work: the privacy policy first (a candidate whose provider the policy refuses for that domain is never
/// scored; a query in which the PHI patterns find identifiers never reaches an external provider), then four scores
/// per candidate — content (lexical similarity to the domain's examples and description, blended with embedding
/// similarity when an <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/> was given), emotional, speed, quality —
/// combined with <c>router.weights</c>. When the best similarity is below <c>router.confidence_threshold</c> the query
/// goes to the fallback domain <c>general</c>.
/// </para>
/// </summary>
public sealed class DomainRouter
{
    /// <summary>The name of the fallback domain.</summary>
    public const string FallbackDomain = "general";

    /// <summary>Neutral score used for speed or quality when the model has no measurement.</summary>
    public const double Unmeasured = 0.5;

    private readonly Entry[] _entries;          // scored candidates, in configuration order
    private readonly Entry _fallback;
    private readonly LexicalIndex _index;
    private readonly IModelStatsSource? _stats;
    private readonly RouterWeights _weights;
    private readonly double _threshold;
    private readonly IEmbeddingGenerator<string, Embedding<float>>? _embedder;
    private readonly float[][] _exampleEmbeddings = [];
    private readonly int[] _exampleDomain = [];
    private readonly double _embeddingWeight;
    private readonly bool _anyExternal;

    private sealed record Entry(DomainOptions Options, string? Model, ProviderOptions Provider, PolicyDecision Policy, int Slot);

    private DomainRouter(HearthConfig config, IModelStatsSource? stats, IEmbeddingGenerator<string, Embedding<float>>? embedder, double embeddingWeight)
    {
        ArgumentNullException.ThrowIfNull(config);
        var policy = new PrivacyPolicy(config);
        var domains = config.Domains.Count > 0 ? config.Domains.Values.ToList() : [.. DefaultDomains.Create(config)];
        Domains = domains;
        var fallbackOptions = domains.FirstOrDefault(d => d.Name == FallbackDomain)
            ?? new DomainOptions { Name = FallbackDomain, Description = "Anything no other domain covers.", Empathetic = true };
        var scored = domains.Where(d => d.Name != FallbackDomain || d.Examples.Count > 0).ToList();

        Entry Make(DomainOptions d, int slot)
        {
            if (!config.Providers.TryGetValue(d.Provider, out var provider))
                throw new ArgumentException($"domains.{d.Name}.provider: unknown provider '{d.Provider}'", nameof(config));
            var decision = policy.Decide(d.Name, provider);
            if (decision.Allowed && !provider.Enabled)
                decision = decision with { Allowed = false, Rule = $"provider '{provider.Name}' is not enabled" };
            return new Entry(d, d.Model ?? config.Models.Default, provider, decision, slot);
        }

        _entries = [.. scored.Select((d, i) => Make(d, i))];
        _fallback = scored.Contains(fallbackOptions) ? _entries[scored.IndexOf(fallbackOptions)] : Make(fallbackOptions, -1);
        _index = LexicalIndex.Build([.. scored.Select(d => (IReadOnlyList<string>)[.. d.Examples, .. (d.Description is null ? Array.Empty<string>() : [d.Description])])]);
        _anyExternal = _entries.Any(e => e.Policy.Allowed && e.Provider.IsExternal) || (_fallback.Policy.Allowed && _fallback.Provider.IsExternal);
        _stats = stats;
        _weights = config.Router.Weights;
        _threshold = config.Router.ConfidenceThreshold;
        _embedder = embedder;
        _embeddingWeight = embeddingWeight;
    }

    private DomainRouter(DomainRouter lexical, float[][] exampleEmbeddings, int[] exampleDomain)
    {
        _entries = lexical._entries;
        _fallback = lexical._fallback;
        _index = lexical._index;
        _stats = lexical._stats;
        _weights = lexical._weights;
        _threshold = lexical._threshold;
        _embedder = lexical._embedder;
        _embeddingWeight = lexical._embeddingWeight;
        _anyExternal = lexical._anyExternal;
        Domains = lexical.Domains;
        _exampleEmbeddings = exampleEmbeddings;
        _exampleDomain = exampleDomain;
    }

    /// <summary>The domains routed between (configured, or the defaults).</summary>
    public IReadOnlyList<DomainOptions> Domains { get; }

    /// <summary>Builds a lexical router (no embedding model) for <paramref name="config"/>.</summary>
    /// <param name="config">The configuration: domains, weights, threshold, privacy policy.</param>
    /// <param name="stats">Speed and quality measurements; null scores every model as unmeasured.</param>
    /// <returns>The router.</returns>
    public static DomainRouter Create(HearthConfig config, IModelStatsSource? stats = null)
        => new(config, stats, null, 0);

    /// <summary>
    /// Builds a router whose content score blends lexical similarity with embedding similarity (cosine of the query's
    /// embedding with the nearest example of each domain). Every example is embedded once here.
    /// </summary>
    /// <param name="config">The configuration.</param>
    /// <param name="embeddingGenerator">The embedding generator, e.g. an embedding model served locally.</param>
    /// <param name="stats">Speed and quality measurements, or null.</param>
    /// <param name="embeddingWeight">Share of the embedding similarity in the content similarity, in [0, 1]; default 0.5.</param>
    /// <param name="cancellationToken">Cancels the embedding of the examples.</param>
    /// <returns>The router.</returns>
    public static async Task<DomainRouter> CreateAsync(
        HearthConfig config, IEmbeddingGenerator<string, Embedding<float>> embeddingGenerator, IModelStatsSource? stats = null,
        double embeddingWeight = 0.5, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(embeddingGenerator);
        if (!(embeddingWeight >= 0 && embeddingWeight <= 1))
            throw new ArgumentOutOfRangeException(nameof(embeddingWeight), embeddingWeight, "must be in [0, 1]");
        var lexical = new DomainRouter(config, stats, embeddingGenerator, embeddingWeight);
        var texts = new List<string>();
        var owners = new List<int>();
        foreach (var e in lexical._entries)
        {
            foreach (var example in e.Options.Examples)
            {
                texts.Add(example);
                owners.Add(e.Slot);
            }
        }

        var vectors = new float[texts.Count][];
        if (texts.Count > 0)
        {
            var generated = await embeddingGenerator.GenerateAsync(texts, cancellationToken: cancellationToken).ConfigureAwait(false);
            if (generated.Count != texts.Count)
                throw new InvalidOperationException($"the embedding generator returned {generated.Count} embeddings for {texts.Count} examples");
            for (var i = 0; i < vectors.Length; i++)
                vectors[i] = generated[i].Vector.ToArray();
        }

        return new DomainRouter(lexical, vectors, [.. owners]);
    }

    /// <summary>Whether <see cref="RouteAsync"/> blends embedding similarity (built by <see cref="CreateAsync"/> with examples).</summary>
    public bool UsesEmbeddings => _embedder is not null && _exampleEmbeddings.Length > 0;

    /// <summary>Routes as the runtime does, waiting for the embedding call when there is one (command-line tools and
    /// the evaluation; a lexical router answers without a task).</summary>
    internal RouteDecision RouteBlocking(string query) => UsesEmbeddings ? RouteAsync(query).GetAwaiter().GetResult() : Route(query);

    /// <summary>Routes a query with the lexical content model only (no embedding call even when one was configured).</summary>
    /// <param name="query">The user's query.</param>
    /// <param name="context">Earlier turns of the conversation, used only when the query alone is below the threshold.</param>
    /// <returns>The decision, with every candidate's scores.</returns>
    public RouteDecision Route(string query, string? context = null)
    {
        ArgumentNullException.ThrowIfNull(query);
        return Decide(query, context, null);
    }

    /// <summary>Routes a query, blending embedding similarity when the router was built with an embedding generator.</summary>
    /// <param name="query">The user's query.</param>
    /// <param name="context">Earlier turns of the conversation, used only when the query alone is below the threshold.</param>
    /// <param name="cancellationToken">Cancels the embedding call.</param>
    /// <returns>The decision.</returns>
    public async Task<RouteDecision> RouteAsync(string query, string? context = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        if (_embedder is null || _exampleEmbeddings.Length == 0)
            return Decide(query, context, null);
        ReadOnlyMemory<float> vector;
        try
        {
            vector = await _embedder.GenerateVectorAsync(query, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The embedding is an aid to routing, not a condition of answering: a query the embedding model cannot
            // take (longer than its context, model busy or failing to load) is routed on the lexical scores alone.
            var lexical = Decide(query, context, null);
            return lexical with { Reason = $"{lexical.Reason} (lexical only: the embedding model failed: {ex.Message})" };
        }
        var similarity = new float[_entries.Length];
        for (var i = 0; i < _exampleEmbeddings.Length; i++)
        {
            var example = _exampleEmbeddings[i];
            if (example.Length != vector.Length)
                throw new InvalidOperationException($"the embedding generator returned a {vector.Length}-dimensional query vector but {example.Length}-dimensional example vectors");
            var cos = TensorPrimitives.CosineSimilarity(vector.Span, example);
            if (float.IsFinite(cos) && cos > similarity[_exampleDomain[i]])
                similarity[_exampleDomain[i]] = cos;
        }

        return Decide(query, context, similarity);
    }

    private RouteDecision Decide(string query, string? context, float[]? embeddingSimilarity)
    {
        var n = _entries.Length;
        Span<float> similarity = n <= 64 ? stackalloc float[n] : new float[n];
        var allowed = n <= 64 ? stackalloc bool[n] : new bool[n];
        string? phiRule = null;
        if (_anyExternal)
        {
            var found = PhiRedactor.Find(query);
            if (found.Count > 0)
                phiRule = "the query contains identifiers the PHI patterns recognise (" + string.Join(", ", found.Select(f => f.Type).Distinct()) + "); external providers are excluded";
        }

        for (var i = 0; i < n; i++)
            allowed[i] = _entries[i].Policy.Allowed && !(phiRule is not null && _entries[i].Provider.IsExternal);
        var fallbackAllowed = _fallback.Policy.Allowed && !(phiRule is not null && _fallback.Provider.IsExternal);

        var confidence = Similarities(query, embeddingSimilarity, similarity, allowed);
        var usedContext = false;
        if (confidence < _threshold && !string.IsNullOrWhiteSpace(context))
        {
            Span<float> withContext = n <= 64 ? stackalloc float[n] : new float[n];
            var c2 = Similarities(context + "\n" + query, embeddingSimilarity, withContext, allowed);
            if (c2 > confidence)
            {
                withContext.CopyTo(similarity);
                confidence = c2;
                usedContext = true;
            }
        }

        var emotion = EmotionScorer.Score(query);
        var candidates = new List<RouteCandidate>(n + 1);
        double maxSpeed = 0;
        foreach (var e in _entries.Append(_fallback))
        {
            if (e.Model is not null && _stats?.GetTokensPerSecond(e.Model) is { } tps && tps > maxSpeed)
                maxSpeed = tps;
        }

        RouteCandidate Score(Entry e, float sim, bool isAllowed, string? excludedBy, bool isFallback)
        {
            var content = confidence > 0 ? sim / confidence : 0;
            var emotional = e.Options.Empathetic ? emotion.Intensity * (isFallback && e.Slot < 0 ? 1 : content) : 0;
            var speed = e.Model is not null && _stats?.GetTokensPerSecond(e.Model) is { } tps && maxSpeed > 0 ? tps / maxSpeed : Unmeasured;
            var quality = e.Model is not null && _stats?.GetQuality(e.Model, e.Options.Name) is { } q ? Math.Clamp(q, 0, 1) : Unmeasured;
            var total = (_weights.Content * content) + (_weights.Emotional * emotional) + (_weights.Speed * speed) + (_weights.Quality * quality);
            if (!isAllowed)
                total = 0;
            return new RouteCandidate(e.Options.Name, e.Model, e.Provider.Name, e.Options.Empathetic, sim, content, emotional, speed, quality, total, isAllowed, excludedBy, isFallback);
        }

        string? Excluded(Entry e, bool isAllowed) => isAllowed ? null : e.Policy.Allowed ? phiRule : e.Policy.Rule;

        var best = -1;
        for (var i = 0; i < n; i++)
        {
            var e = _entries[i];
            var c = Score(e, allowed[i] ? similarity[i] : 0, allowed[i], Excluded(e, allowed[i]), e == _fallback);
            candidates.Add(c);
            if (allowed[i] && (best < 0 || c.Total > candidates[best].Total))
                best = i; // strict '>' keeps the first in configuration order on ties: deterministic
        }

        if (_fallback.Slot < 0)
            candidates.Add(Score(_fallback, 0, fallbackAllowed, Excluded(_fallback, fallbackAllowed), true));

        var inv = CultureInfo.InvariantCulture;
        Entry chosen;
        string reason;
        var isFallbackChoice = false;
        if (best < 0)
        {
            if (!fallbackAllowed)
                throw new PolicyRefusedException(null, _fallback.Provider.Name, "the privacy policy excludes every domain, including the fallback '" + FallbackDomain + "'");
            chosen = _fallback;
            isFallbackChoice = true;
            reason = $"the privacy policy excludes every other domain; using the fallback '{_fallback.Options.Name}'";
        }
        else if (confidence < _threshold && fallbackAllowed && _entries[best] != _fallback)
        {
            chosen = _fallback;
            isFallbackChoice = true;
            var top = BestBySimilarity(similarity, allowed);
            reason = string.Create(inv, $"out of scope: the best content similarity {confidence:0.000} ({_entries[top].Options.Name}) is below the threshold {_threshold:0.000}; using the fallback '{_fallback.Options.Name}'");
        }
        else
        {
            chosen = _entries[best];
            var winner = candidates[best];
            var runnerUp = candidates.Where((c, i) => i != best && c.Allowed && !(c.IsFallback && _fallback.Slot < 0)).OrderByDescending(c => c.Total).FirstOrDefault();
            reason = string.Create(inv, $"highest total {winner.Total:0.000} = content {winner.Content:0.00}×{_weights.Content:0.##} + emotional {winner.Emotional:0.00}×{_weights.Emotional:0.##} + speed {winner.Speed:0.00}×{_weights.Speed:0.##} + quality {winner.Quality:0.00}×{_weights.Quality:0.##}");
            if (runnerUp is not null)
                reason += string.Create(inv, $"; next {runnerUp.Domain} {runnerUp.Total:0.000}");
            reason += string.Create(inv, $"; confidence {confidence:0.000} ≥ threshold {_threshold:0.000}");
            if (usedContext)
                reason += "; earlier turns of the conversation were needed";
        }

        if (phiRule is not null && candidates.Any(c => !c.Allowed && c.ExcludedBy == phiRule))
            reason += "; " + phiRule;

        // Allowed by descending total (stable, so ties keep configuration order), then excluded ones.
        var ordered = candidates.Where(c => c.Allowed).OrderByDescending(c => c.Total).Concat(candidates.Where(c => !c.Allowed)).ToArray();
        return new RouteDecision
        {
            Domain = chosen.Options.Name,
            Model = chosen.Model,
            Provider = chosen.Provider.Name,
            Adapter = chosen.Options.Adapter,
            IsFallback = isFallbackChoice,
            Confidence = confidence,
            Threshold = _threshold,
            UsedContext = usedContext,
            Weights = _weights,
            Emotion = emotion,
            Candidates = ordered,
            Reason = reason,
        };
    }

    private float Similarities(string text, float[]? embeddingSimilarity, Span<float> similarity, ReadOnlySpan<bool> allowed)
    {
        _index.Score(text, similarity);
        if (embeddingSimilarity is not null)
        {
            var w = (float)_embeddingWeight;
            for (var i = 0; i < similarity.Length; i++)
                similarity[i] = ((1 - w) * similarity[i]) + (w * Math.Clamp(embeddingSimilarity[i], 0f, 1f));
        }

        var max = 0f;
        for (var i = 0; i < similarity.Length; i++)
        {
            if (allowed[i] && similarity[i] > max)
                max = similarity[i];
        }

        return max;
    }

    private static int BestBySimilarity(ReadOnlySpan<float> similarity, ReadOnlySpan<bool> allowed)
    {
        var best = 0;
        for (var i = 0; i < similarity.Length; i++)
        {
            if (allowed[i] && (similarity[i] > similarity[best] || !allowed[best]))
                best = i;
        }

        return best;
    }
}
