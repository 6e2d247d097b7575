using System.Collections.Concurrent;

namespace Hearth.Routing;

/// <summary>
/// Measurements the router's speed and quality scores come from: a model's generation speed on this machine
/// (from <c>hearth bench</c>) and its stored evaluation score per domain. The model store provides one; tests and
/// callers without a store use <see cref="InMemoryModelStatsSource"/>.
/// </summary>
public interface IModelStatsSource
{
    /// <summary>The model's measured generation speed in tokens per second on this machine, or null when not measured.</summary>
    /// <param name="model">A model reference, as written in <c>domains.*.model</c>.</param>
    /// <returns>Tokens per second, or null.</returns>
    double? GetTokensPerSecond(string model);

    /// <summary>The model's stored evaluation score for a domain, in [0, 1], or null when not evaluated.</summary>
    /// <param name="model">A model reference.</param>
    /// <param name="domain">A domain name.</param>
    /// <returns>The score, or null.</returns>
    double? GetQuality(string model, string domain);
}

/// <summary>A thread-safe in-memory <see cref="IModelStatsSource"/>.</summary>
public sealed class InMemoryModelStatsSource : IModelStatsSource
{
    private readonly ConcurrentDictionary<string, double> _speed = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string Model, string Domain), double> _quality = new();

    /// <summary>Records a model's measured speed.</summary>
    /// <param name="model">The model reference.</param>
    /// <param name="tokensPerSecond">Tokens per second, positive and finite.</param>
    /// <returns>This source, for chaining.</returns>
    public InMemoryModelStatsSource SetTokensPerSecond(string model, double tokensPerSecond)
    {
        ArgumentException.ThrowIfNullOrEmpty(model);
        if (!double.IsFinite(tokensPerSecond) || tokensPerSecond <= 0)
            throw new ArgumentOutOfRangeException(nameof(tokensPerSecond), tokensPerSecond, "tokens per second must be a positive finite number");
        _speed[model] = tokensPerSecond;
        return this;
    }

    /// <summary>Records a model's evaluation score for a domain.</summary>
    /// <param name="model">The model reference.</param>
    /// <param name="domain">The domain name.</param>
    /// <param name="score">The score, in [0, 1].</param>
    /// <returns>This source, for chaining.</returns>
    public InMemoryModelStatsSource SetQuality(string model, string domain, double score)
    {
        ArgumentException.ThrowIfNullOrEmpty(model);
        ArgumentException.ThrowIfNullOrEmpty(domain);
        if (!(score >= 0 && score <= 1))
            throw new ArgumentOutOfRangeException(nameof(score), score, "an evaluation score must be in [0, 1]");
        _quality[(model, domain)] = score;
        return this;
    }

    /// <inheritdoc />
    public double? GetTokensPerSecond(string model) => _speed.TryGetValue(model, out var v) ? v : null;

    /// <inheritdoc />
    public double? GetQuality(string model, string domain) => _quality.TryGetValue((model, domain), out var v) ? v : null;
}
