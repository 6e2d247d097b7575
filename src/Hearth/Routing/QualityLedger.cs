using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Hearth.Configuration;
using Hearth.Runtime;

namespace Hearth.Routing;

/// <summary>One stored evaluation of a model on a domain's text.</summary>
/// <param name="Time">When it was measured.</param>
/// <param name="Model">The model reference, as written in <c>domains.*.model</c>.</param>
/// <param name="Domain">The domain the text represents.</param>
/// <param name="Score">The router's quality score in [0, 1]: 1/perplexity, the geometric mean of the probability the
/// model gives each scored token of the text.</param>
/// <param name="Perplexity">The perplexity measured (llama-perplexity's method).</param>
/// <param name="Tokens">Tokens scored.</param>
/// <param name="TextSha256">SHA-256 of the evaluation text (the text itself is never stored).</param>
public sealed record QualityRecord(
    [property: JsonPropertyName("time")] DateTimeOffset Time,
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("domain")] string Domain,
    [property: JsonPropertyName("score")] double Score,
    [property: JsonPropertyName("perplexity")] double Perplexity,
    [property: JsonPropertyName("tokens")] int Tokens,
    [property: JsonPropertyName("text_sha256")] string TextSha256);

/// <summary>
/// The stored evaluation scores the router's quality term reads (<c>$HEARTH_HOME/evals/quality.jsonl</c>, written by
/// <c>hearth factory validate --domain</c>). Append-only JSON lines; the newest record per (model, domain) counts;
/// a torn last line is skipped.
/// </summary>
internal sealed class QualityLedger(string path)
{
    private static readonly JsonSerializerOptions Json = new();

    public string Path { get; } = path;

    public static QualityLedger ForHome(string hearthHome) => new(System.IO.Path.Combine(hearthHome, "evals", "quality.jsonl"));

    public void Append(QualityRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (!(record.Score >= 0 && record.Score <= 1))
            throw new ArgumentOutOfRangeException(nameof(record), record.Score, "a quality score must be in [0, 1]");
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
        using var stream = new FileStream(Path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
        stream.Write(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(record, Json) + "\n"));
    }

    /// <summary>The newest record of each (model, domain).</summary>
    public IReadOnlyList<QualityRecord> Latest()
    {
        if (!File.Exists(Path))
            return [];
        var latest = new Dictionary<(string, string), QualityRecord>();
        using var reader = new StreamReader(new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite));
        var lineNumber = 0;
        while (reader.ReadLine() is { } line)
        {
            lineNumber++;
            if (line.Length == 0)
                continue;
            QualityRecord? r;
            try
            {
                r = JsonSerializer.Deserialize<QualityRecord>(line, Json);
            }
            catch (JsonException) when (reader.Peek() < 0)
            {
                continue; // torn tail
            }
            catch (JsonException ex)
            {
                throw new InvalidDataException($"{Path}:{lineNumber.ToString(CultureInfo.InvariantCulture)}: not a quality record: {ex.Message}", ex);
            }
            if (r is null || !(r.Score >= 0 && r.Score <= 1))
                throw new InvalidDataException($"{Path}:{lineNumber.ToString(CultureInfo.InvariantCulture)}: quality score must be in [0, 1]");
            if (!latest.TryGetValue((r.Model, r.Domain), out var seen) || r.Time >= seen.Time)
                latest[(r.Model, r.Domain)] = r;
        }
        return [.. latest.Values];
    }
}

/// <summary>Fills the router's model statistics from what this machine measured: generation speed from the usage
/// ledger (last 30 days) and evaluation scores from the quality ledger.</summary>
internal static class ModelStatsLoader
{
    public static InMemoryModelStatsSource Load(HearthConfig config, InMemoryModelStatsSource? into = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        var stats = into ?? new InMemoryModelStatsSource();
        try
        {
            foreach (var g in UsageLedger.ForHome(config.HearthHome).Read(DateTimeOffset.UtcNow.AddDays(-30))
                         .Where(r => r.Outcome == "completed" && r.OutputTokens > 0 && r.Seconds > 0).GroupBy(r => r.Model))
                stats.SetTokensPerSecond(g.Key, g.Sum(r => r.OutputTokens) / g.Sum(r => r.Seconds));
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            // Speed is then unmeasured (neutral); routing still works.
        }

        try
        {
            foreach (var q in QualityLedger.ForHome(config.HearthHome).Latest())
                stats.SetQuality(q.Model, q.Domain, q.Score);
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            // Quality is then unmeasured (neutral).
        }
        return stats;
    }
}
