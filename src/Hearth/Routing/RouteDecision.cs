using System.Globalization;
using System.Text;
using Hearth.Configuration;

namespace Hearth.Routing;

/// <summary>One domain the router considered, with its four scores and weighted total.</summary>
/// <param name="Domain">The domain name.</param>
/// <param name="Model">The model that serves it, or null when none is configured.</param>
/// <param name="Provider">The provider that runs the model.</param>
/// <param name="Empathetic">Whether the domain is marked empathetic.</param>
/// <param name="Similarity">Raw content similarity of the query to the domain's examples and description, in [0, 1].</param>
/// <param name="Content">Content score: <paramref name="Similarity"/> relative to the best candidate's, in [0, 1].</param>
/// <param name="Emotional">Emotional score: the query's emotional intensity × <paramref name="Content"/> for empathetic domains, else 0.</param>
/// <param name="Speed">Speed score: measured tokens/s relative to the fastest candidate; 0.5 when not measured.</param>
/// <param name="Quality">Quality score: the model's stored evaluation score for this domain; 0.5 when not evaluated.</param>
/// <param name="Total">The weighted sum of the four scores.</param>
/// <param name="Allowed">False when the privacy policy excluded this candidate before scoring.</param>
/// <param name="ExcludedBy">The policy rule that excluded it, or null.</param>
/// <param name="IsFallback">True for the fallback domain, which is chosen only when no domain is confident enough.</param>
public sealed record RouteCandidate(
    string Domain,
    string? Model,
    string Provider,
    bool Empathetic,
    double Similarity,
    double Content,
    double Emotional,
    double Speed,
    double Quality,
    double Total,
    bool Allowed,
    string? ExcludedBy,
    bool IsFallback);

/// <summary>The router's decision for one query: what was chosen, every candidate's scores, and why.</summary>
public sealed record RouteDecision
{
    /// <summary>The chosen domain.</summary>
    public required string Domain { get; init; }

    /// <summary>The chosen model reference, or null when the domain has none and <c>models.default</c> is unset.</summary>
    public string? Model { get; init; }

    /// <summary>The provider that runs the chosen model.</summary>
    public required string Provider { get; init; }

    /// <summary>The chosen domain's LoRA adapter, if any.</summary>
    public string? Adapter { get; init; }

    /// <summary>True when the fallback domain was chosen because no domain was confident enough (or none was allowed).</summary>
    public bool IsFallback { get; init; }

    /// <summary>The best content similarity among allowed candidates, compared with <see cref="Threshold"/>.</summary>
    public double Confidence { get; init; }

    /// <summary>The confidence threshold in force (<c>router.confidence_threshold</c>).</summary>
    public double Threshold { get; init; }

    /// <summary>True when earlier conversation turns were added to a query that alone was not confident enough.</summary>
    public bool UsedContext { get; init; }

    /// <summary>The weights the totals were computed with.</summary>
    public required RouterWeights Weights { get; init; }

    /// <summary>The emotional reading of the query.</summary>
    public required EmotionReading Emotion { get; init; }

    /// <summary>Every candidate, allowed ones by descending total, then the excluded ones.</summary>
    public required IReadOnlyList<RouteCandidate> Candidates { get; init; }

    /// <summary>One sentence saying why <see cref="Domain"/> was chosen.</summary>
    public required string Reason { get; init; }

    /// <summary>A multi-line human explanation: the choice, the reason, each candidate's scores, the emotional cues.</summary>
    /// <returns>The explanation text.</returns>
    public string Explain()
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.Append(inv, $"domain {Domain}, model {Model ?? "(none configured)"} via {Provider}").AppendLine();
        sb.Append("reason: ").AppendLine(Reason);
        sb.Append(inv, $"weights: content {Weights.Content:0.##}, emotional {Weights.Emotional:0.##}, speed {Weights.Speed:0.##}, quality {Weights.Quality:0.##}; confidence {Confidence:0.000} (threshold {Threshold:0.000})").AppendLine();
        sb.AppendLine("candidate        similarity content emotional speed quality total");
        foreach (var c in Candidates)
        {
            sb.Append(inv, $"{c.Domain,-16} {c.Similarity,10:0.000} {c.Content,7:0.000} {c.Emotional,9:0.000} {c.Speed,5:0.000} {c.Quality,7:0.000} {c.Total,5:0.000}");
            if (!c.Allowed)
                sb.Append(" excluded: ").Append(c.ExcludedBy);
            else if (c.IsFallback)
                sb.Append(" (fallback)");
            sb.AppendLine();
        }

        sb.Append(inv, $"emotion: intensity {Emotion.Intensity:0.00}");
        if (Emotion.Cues.Count > 0)
            sb.Append("; cues: ").Append(string.Join(", ", Emotion.Cues));
        sb.AppendLine();
        return sb.ToString();
    }
}
