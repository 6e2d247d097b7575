using System.Text.RegularExpressions;

namespace Hearth.Store;

/// <summary>
/// A model reference: <c>name[:tag]</c> where the name is one or more <c>/</c>-separated segments
/// (<c>stories:260k</c>, <c>user/model:q8</c>, <c>hf.co/org/repo:Q4_K_M</c>). The tag defaults to <c>latest</c>.
/// A one-segment name lives in the <c>library</c> namespace, as in Ollama.
/// </summary>
internal sealed partial record ModelReference(IReadOnlyList<string> Segments, string Tag)
{
    public const string DefaultTag = "latest";
    public const string LibraryNamespace = "library";

    /// <summary>The name without the tag, as the user writes it.</summary>
    public string Name => string.Join('/', Segments);

    /// <summary>Path segments under <c>manifests/</c>, ending with <c>TAG.json</c>.</summary>
    public IEnumerable<string> ManifestPathParts =>
        (Segments.Count == 1 ? [LibraryNamespace, .. Segments] : Segments).Append(Tag + ".json");

    public override string ToString() => Name + ":" + Tag;

    public static ModelReference Parse(string text)
        => TryParse(text, out var r, out var problem) ? r! : throw new ModelStoreException($"invalid model reference '{text}': {problem}");

    public static bool TryParse(string? text, out ModelReference? reference, out string? problem)
    {
        reference = null;
        problem = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            problem = "empty";
            return false;
        }

        text = text.Trim();
        var slash = text.LastIndexOf('/');
        var colon = text.LastIndexOf(':');
        string name, tag;
        if (colon > slash)
        {
            name = text[..colon];
            tag = text[(colon + 1)..];
            if (!TagPattern().IsMatch(tag))
            {
                problem = $"tag '{tag}' must be letters, digits, '.', '_' or '-' (at most 128)";
                return false;
            }
        }
        else
        {
            name = text;
            tag = DefaultTag;
        }

        var segments = name.Split('/');
        foreach (var s in segments)
        {
            if (!SegmentPattern().IsMatch(s) || s is "." or "..")
            {
                problem = s.Length == 0 ? "empty name segment" : $"name segment '{s}' must start with a letter or digit and hold only letters, digits, '.', '_' or '-'";
                return false;
            }
        }

        reference = new ModelReference(segments, tag);
        return true;
    }

    /// <summary>True when <paramref name="other"/> names the same model (case-insensitive; <c>library/x</c> equals <c>x</c>).</summary>
    public bool SameAs(ModelReference other)
        => string.Equals(Canonical, other.Canonical, StringComparison.OrdinalIgnoreCase);

    /// <summary>True when this reference is a trailing part of <paramref name="full"/>: <c>qwen:0.5b</c> matches <c>ollama.com/library/qwen:0.5b</c>.</summary>
    public bool IsSuffixOf(ModelReference full)
    {
        if (!string.Equals(Tag, full.Tag, StringComparison.OrdinalIgnoreCase))
            return false;
        // The short form matches the trailing segments as written: "qwen:0.5b" matches ollama.com/library/qwen:0.5b.
        var mine = Segments;
        var theirs = full.Segments.Count == 1 ? [LibraryNamespace, full.Segments[0]] : full.Segments.ToArray();
        if (mine.Count > theirs.Length)
            return false;
        for (var i = 1; i <= mine.Count; i++)
        {
            if (!string.Equals(mine[mine.Count - i], theirs[^i], StringComparison.OrdinalIgnoreCase))
                return false;
        }

        return true;
    }

    private string Canonical => (Segments.Count == 1 ? LibraryNamespace + "/" + Name : Name) + ":" + Tag;

    /// <summary>Turns free text (a file stem) into a valid name segment: lower case, other characters become '-'.</summary>
    public static string Sanitize(string text)
    {
        var chars = text.Trim().ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' ? c : '-').ToArray();
        var s = new string(chars).Trim('-', '.', '_');
        return s.Length == 0 ? "model" : s;
    }

    /// <summary>
    /// Splits a GGUF file name into a model name and a quantization tag: <c>Llama-3.2-1B-Instruct-Q4_K_M.gguf</c> →
    /// (<c>llama-3.2-1b-instruct</c>, <c>Q4_K_M</c>); without a recognisable quantization the tag is <c>latest</c>.
    /// </summary>
    public static (string Name, string Tag) FromFileName(string fileName)
    {
        var stem = Path.GetFileNameWithoutExtension(fileName);
        var split = SplitSuffix().Match(stem);
        if (split.Success)
            stem = stem[..split.Index];
        var m = QuantSuffix().Match(stem);
        return m.Success && m.Index > 0
            ? (Sanitize(stem[..m.Index]), m.Groups[1].Value.ToUpperInvariant())
            : (Sanitize(stem), DefaultTag);
    }

    /// <summary>The quantization token in a file name (<c>Q4_K_M</c>, <c>IQ3_XS</c>, <c>F16</c>...), or null.</summary>
    public static string? QuantOf(string fileName)
    {
        var stem = Path.GetFileNameWithoutExtension(fileName);
        var split = SplitSuffix().Match(stem);
        if (split.Success)
            stem = stem[..split.Index];
        var m = QuantSuffix().Match(stem);
        return m.Success ? m.Groups[1].Value.ToUpperInvariant() : null;
    }

    [GeneratedRegex(@"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")]
    private static partial Regex TagPattern();

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")]
    private static partial Regex SegmentPattern();

    [GeneratedRegex(@"[-_.]((?:I?Q[1-8](?:_[0-9A-Z]+)*)|BF16|F16|F32)$", RegexOptions.IgnoreCase)]
    private static partial Regex QuantSuffix();

    [GeneratedRegex(@"-\d{5}-of-\d{5}$")]
    private static partial Regex SplitSuffix();
}

/// <summary>A model store problem the user can act on: the message names the model, file or URL.</summary>
internal sealed class ModelStoreException : Exception
{
    public ModelStoreException(string message)
        : base(message)
    {
    }

    public ModelStoreException(string message, Exception inner)
        : base(message, inner)
    {
    }

    public ModelStoreException()
    {
    }
}
