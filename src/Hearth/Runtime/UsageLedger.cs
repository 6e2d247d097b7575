using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Hearth.Runtime;

/// <summary>One request's usage, kept locally for <c>hearth cost</c>.</summary>
/// <param name="Time">When the request ended.</param>
/// <param name="Provider">Provider that served it.</param>
/// <param name="Model">Model name.</param>
/// <param name="Domain">Domain, when routed or named.</param>
/// <param name="InputTokens">Prompt tokens.</param>
/// <param name="OutputTokens">Completion tokens.</param>
/// <param name="Seconds">Wall time of the request.</param>
/// <param name="Outcome">completed, cancelled or failed: …</param>
/// <param name="Kind">What was served: null for chat or completion, <c>embedding</c> for an embedding call.</param>
public sealed record UsageRecord(
    [property: JsonPropertyName("time")] DateTimeOffset Time,
    [property: JsonPropertyName("provider")] string Provider,
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("domain")] string? Domain,
    [property: JsonPropertyName("input_tokens")] int InputTokens,
    [property: JsonPropertyName("output_tokens")] int OutputTokens,
    [property: JsonPropertyName("seconds")] double Seconds,
    [property: JsonPropertyName("outcome")] string Outcome,
    [property: JsonPropertyName("kind")] string? Kind = null)
{
    /// <summary>The <see cref="Kind"/> of embedding calls.</summary>
    public const string Embedding = "embedding";

    /// <summary>Whether this record is an embedding call (no generated tokens).</summary>
    [JsonIgnore]
    public bool IsEmbedding => Kind == Embedding;
}

/// <summary>
/// Append-only JSON-lines file of <see cref="UsageRecord"/>s (<c>$HEARTH_HOME/usage/usage.jsonl</c>). Token counts
/// and timings only, never content. A torn last line (a crash mid-write) is skipped on reading.
/// </summary>
internal sealed class UsageLedger(string path)
{
    private static readonly JsonSerializerOptions Json = new() { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };
    private readonly Lock _lock = new();

    public string Path { get; } = path;

    public static UsageLedger ForHome(string hearthHome) => new(System.IO.Path.Combine(hearthHome, "usage", "usage.jsonl"));

    public void Append(UsageRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        var line = JsonSerializer.Serialize(record, Json) + "\n";
        lock (_lock)
        {
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
            using var stream = new FileStream(Path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
            stream.Write(Encoding.UTF8.GetBytes(line));
        }
    }

    /// <summary>Records at or after <paramref name="since"/> (all when null).</summary>
    public IReadOnlyList<UsageRecord> Read(DateTimeOffset? since = null)
    {
        if (!File.Exists(Path))
            return [];
        var result = new List<UsageRecord>();
        using var reader = new StreamReader(new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite));
        var lineNumber = 0;
        while (reader.ReadLine() is { } line)
        {
            lineNumber++;
            if (line.Length == 0)
                continue;
            UsageRecord? r;
            try
            {
                r = JsonSerializer.Deserialize<UsageRecord>(line, Json);
            }
            catch (JsonException) when (reader.Peek() < 0)
            {
                continue; // torn tail
            }
            catch (JsonException ex)
            {
                throw new InvalidDataException($"{Path}:{lineNumber.ToString(CultureInfo.InvariantCulture)}: not a usage record: {ex.Message}", ex);
            }

            if (r is not null && (since is null || r.Time >= since))
                result.Add(r);
        }

        return result;
    }
}
