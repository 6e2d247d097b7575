using System.Text.Json.Serialization;

namespace Hearth.Store;

/// <summary>
/// What a model reference resolves to: <c>manifests/&lt;namespace&gt;/&lt;name&gt;/&lt;tag&gt;.json</c>. The model file is
/// the first <c>model</c> layer; split GGUF files have one <c>model</c> layer per part, in order.
/// </summary>
internal sealed record ModelManifest
{
    public const int CurrentSchema = 1;

    public int Schema { get; init; } = CurrentSchema;

    /// <summary>The reference this manifest is stored under (<c>name:tag</c>).</summary>
    public required string Reference { get; init; }

    /// <summary>File format: <c>gguf</c>.</summary>
    public string Format { get; init; } = "gguf";

    /// <summary><c>general.architecture</c> of the model file.</summary>
    public string? Architecture { get; init; }

    /// <summary>llama.cpp file type (quantization) name, e.g. <c>Q4_K_M</c>.</summary>
    public string? FileType { get; init; }

    /// <summary>Parameter count (elements of every tensor).</summary>
    public long? Parameters { get; init; }

    /// <summary>Total bytes of the model layers.</summary>
    public long Size { get; init; }

    /// <summary>Where the model came from.</summary>
    public required ModelSourceInfo Source { get; init; }

    /// <summary>When the model entered the store.</summary>
    public DateTimeOffset PulledAt { get; init; }

    /// <summary>When the model was last resolved for a run; null when never.</summary>
    public DateTimeOffset? LastUsed { get; init; }

    /// <summary>The blobs the model needs.</summary>
    public required IReadOnlyList<ManifestLayer> Layers { get; init; }

    /// <summary>Small text layers and facts kept with the model (Ollama <c>template</c>, <c>params</c>, <c>system</c>...).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; init; } = new Dictionary<string, string>();

    [JsonIgnore]
    public IEnumerable<ManifestLayer> ModelLayers => Layers.Where(l => l.Role == ManifestLayer.ModelRole);
}

/// <summary>Where a model was pulled or imported from.</summary>
/// <param name="Kind"><c>file</c>, <c>url</c>, <c>huggingface</c>, <c>ollama</c>, <c>import-ollama</c>, <c>import-lmstudio</c>, <c>import-hf</c>, <c>import-dir</c>.</param>
/// <param name="Location">The URL, repository or path.</param>
internal sealed record ModelSourceInfo(string Kind, string Location);

/// <summary>One blob of a model: content digest, size, and either a store blob or a verified external file.</summary>
internal sealed record ManifestLayer
{
    public const string ModelRole = "model";

    /// <summary><c>model</c> for GGUF data; other roles are informational.</summary>
    public string Role { get; init; } = ModelRole;

    /// <summary><c>sha256:&lt;hex&gt;</c>.</summary>
    public required string Digest { get; init; }

    public required long Size { get; init; }

    /// <summary>The file name at the source (e.g. <c>model-Q4_K_M.gguf</c>), for display.</summary>
    public string? FileName { get; init; }

    /// <summary>Absolute path of an external file this layer refers to (an import that could not be hard-linked); null for store blobs.</summary>
    public string? ExternalPath { get; init; }

    /// <summary>Last write time (UTC) of <see cref="ExternalPath"/> when it was verified; a change means it must be verified again.</summary>
    public DateTimeOffset? ExternalModified { get; init; }

    [JsonIgnore]
    public string Hex => Digest.StartsWith("sha256:", StringComparison.Ordinal) ? Digest[7..] : Digest;
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ModelManifest))]
[JsonSerializable(typeof(PartialInfo))]
internal sealed partial class StoreJsonContext : JsonSerializerContext;

/// <summary>Sidecar of a partial download: what the bytes belong to, so a later pull can resume them.</summary>
internal sealed record PartialInfo(string Url, string? ETag, long? Total)
{
    /// <summary>The digest the data must have, when a response header named it (so a resumed segmented pull still checks it).</summary>
    public string? Sha256 { get; init; }

    /// <summary>Set for a parallel ranged download: the file is preallocated to <see cref="Total"/> and each segment records its progress.</summary>
    public IReadOnlyList<SegmentInfo>? Segments { get; init; }
}

/// <summary>One byte range <c>[Start, End)</c> of a parallel download, of which the first <see cref="Done"/> bytes are on disk.</summary>
internal sealed record SegmentInfo(long Start, long End, long Done);
