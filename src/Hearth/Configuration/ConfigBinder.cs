using System.Globalization;

namespace Hearth.Configuration;

/// <summary>Collects errors and effective values while binding a <see cref="MapNode"/> tree to typed options.</summary>
internal sealed class BindContext
{
    public List<ConfigError> Errors { get; } = [];

    public List<ConfigValue> Effective { get; } = [];

    public Dictionary<string, ConfigOrigin> Origins { get; } = new(StringComparer.Ordinal);

    public string? BaseDirectory { get; init; }

    public ConfigOrigin OriginOf(string key) => Origins.TryGetValue(key, out var o) ? o : ConfigOrigin.Default;

    public void Error(string key, string message) => Errors.Add(new ConfigError(key, OriginOf(key), message));

    public void Record(string key, string value, ConfigOrigin origin)
    {
        Origins[key] = origin;
        Effective.Add(new ConfigValue(key, value, origin));
    }
}

/// <summary>
/// Reads the keys of one mapping: each accessor marks its key as known, parses and range-checks it, records the
/// effective value and its origin, and reports a problem as a <see cref="ConfigError"/> (falling back to the default).
/// <see cref="Finish"/> reports keys no accessor asked for as unknown.
/// </summary>
internal sealed class SectionReader(BindContext context, string path, MapNode? map)
{
    private readonly HashSet<string> _known = new(StringComparer.Ordinal);

    public string Path { get; } = path;

    public MapNode? Map { get; } = map;

    public BindContext Context { get; } = context;

    public string KeyOf(string key) => Path.Length == 0 ? key : Path + "." + key;

    public ConfigNode? Take(string key)
    {
        _known.Add(key);
        var node = Map?.Get(key);
        return node is ScalarNode { IsNull: true } ? null : node;
    }

    public bool Has(string key) => Map?.Get(key) is not null and not ScalarNode { IsNull: true };

    public SectionReader Section(string key)
    {
        var node = Take(key);
        if (node is null or MapNode)
            return new SectionReader(Context, KeyOf(key), node as MapNode);
        Fail(key, node, $"expected a mapping, got {node.KindName}");
        return new SectionReader(Context, KeyOf(key), null);
    }

    public bool Bool(string key, bool fallback)
        => Scalar(key, fallback, s => s.ToLowerInvariant() switch
        {
            "true" or "yes" or "on" => (true, null),
            "false" or "no" or "off" => (false, null),
            _ => (false, "expected true or false"),
        }, v => v ? "true" : "false");

    public string? String(string key, string? fallback)
        => Scalar(key, fallback, s => (s, null), v => v ?? "(none)");

    public double Number(string key, double fallback, double min, double max)
        => Scalar(key, fallback, s =>
        {
            if (!double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) || !double.IsFinite(d))
                return (0, "expected a number");
            return d < min || d > max ? (d, Range(min, max)) : (d, null);
        }, v => v.ToString("R", CultureInfo.InvariantCulture));

    public int Integer(string key, int fallback, int min, int max)
        => Scalar(key, fallback, s =>
        {
            if (!int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var i))
                return (0, "expected a whole number");
            return i < min || i > max ? (i, Range(min, max)) : (i, null);
        }, v => v.ToString(CultureInfo.InvariantCulture));

    public long Size(string key, long fallback, long min, long max)
        => Scalar(key, fallback, s =>
        {
            if (!ConfigValues.TryParseSize(s, out var b))
                return (0, "expected a size such as 8GiB, 512MiB or a byte count");
            return b < min || b > max ? (b, $"out of range: must be between {ConfigValues.FormatSize(min)} and {ConfigValues.FormatSize(max)}") : (b, null);
        }, ConfigValues.FormatSize);

    public TimeSpan Duration(string key, TimeSpan fallback, TimeSpan min, TimeSpan max)
        => Scalar(key, fallback, s =>
        {
            if (!ConfigValues.TryParseDuration(s, out var t))
                return (TimeSpan.Zero, "expected a duration such as 30s, 5m, 1h30m or 90d");
            return t < min || t > max ? (t, $"out of range: must be between {ConfigValues.FormatDuration(min)} and {ConfigValues.FormatDuration(max)}") : (t, null);
        }, ConfigValues.FormatDuration);

    public T Enum<T>(string key, T fallback, params (string Name, T Value)[] values)
        where T : struct
        => Scalar(key, fallback, s =>
        {
            // Both spellings are accepted: local_only and local-only.
            var norm = s.Trim().ToLowerInvariant().Replace('-', '_');
            foreach (var (name, value) in values)
            {
                if (name.Replace('-', '_') == norm)
                    return (value, null);
            }

            return (fallback, "expected one of " + string.Join(", ", values.Select(v => v.Name)));
        }, v => values.First(x => EqualityComparer<T>.Default.Equals(x.Value, v)).Name);

    public Uri? Endpoint(string key, Uri? fallback)
        => Scalar(key, fallback, s => ConfigValues.TryParseEndpoint(s, out var u, out var problem) ? (u, null) : (null, "invalid endpoint: " + problem), v => v?.ToString() ?? "(none)");

    /// <summary>A list of strings: a YAML sequence, or (from an environment variable) a comma-separated scalar.</summary>
    public IReadOnlyList<(string Value, ConfigOrigin Origin, string Key)> List(string key, IReadOnlyList<string> fallback)
    {
        var fullKey = KeyOf(key);
        var node = Take(key);
        var result = new List<(string, ConfigOrigin, string)>();
        switch (node)
        {
            case null:
                for (var i = 0; i < fallback.Count; i++)
                    result.Add((fallback[i], ConfigOrigin.Default, $"{fullKey}[{i}]"));
                break;
            case SequenceNode seq:
                for (var i = 0; i < seq.Items.Count; i++)
                {
                    if (seq.Items[i] is ScalarNode { IsNull: false } s)
                        result.Add((s.Value, s.Origin, $"{fullKey}[{i}]"));
                    else
                        Context.Errors.Add(new ConfigError($"{fullKey}[{i}]", seq.Items[i].Origin, $"expected a string, got {seq.Items[i].KindName}"));
                }

                break;
            case ScalarNode s when s.Origin.Kind == ConfigOriginKind.Environment:
                var parts = s.Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                for (var i = 0; i < parts.Length; i++)
                    result.Add((parts[i], s.Origin, $"{fullKey}[{i}]"));
                break;
            default:
                Fail(key, node, $"expected a list, got {node.KindName}");
                for (var i = 0; i < fallback.Count; i++)
                    result.Add((fallback[i], ConfigOrigin.Default, $"{fullKey}[{i}]"));
                break;
        }

        Context.Origins[fullKey] = node?.Origin ?? ConfigOrigin.Default;
        foreach (var (value, origin, itemKey) in result)
            Context.Record(itemKey, value, origin);
        if (result.Count == 0)
            Context.Record(fullKey, "[]", node?.Origin ?? ConfigOrigin.Default);
        return result;
    }

    /// <summary>The entries of a mapping whose keys are names (domains, providers).</summary>
    public IEnumerable<(string Name, SectionReader Reader)> Entries()
    {
        if (Map is null)
            yield break;
        foreach (var (name, node) in Map.Entries)
        {
            _known.Add(name);
            if (node is MapNode m)
                yield return (name, new SectionReader(Context, KeyOf(name), m));
            else if (node is ScalarNode { IsNull: true })
                yield return (name, new SectionReader(Context, KeyOf(name), null));
            else
                Fail(name, node, $"expected a mapping, got {node.KindName}");
        }
    }

    /// <summary>Reports every key of this mapping that no accessor asked for.</summary>
    public void Finish()
    {
        if (Map is null)
            return;
        foreach (var (key, node) in Map.Entries)
        {
            if (_known.Contains(key))
                continue;
            var expected = _known.Count > 0 ? " (known keys: " + string.Join(", ", _known.Order(StringComparer.Ordinal)) + ")" : "";
            Context.Errors.Add(new ConfigError(KeyOf(key), Map.KeyOrigins.GetValueOrDefault(key) ?? node.Origin, "unknown key" + expected));
        }
    }

    private T Scalar<T>(string key, T fallback, Func<string, (T Value, string? Error)> parse, Func<T, string> format)
    {
        var node = Take(key);
        var fullKey = KeyOf(key);
        if (node is null)
        {
            Context.Record(fullKey, format(fallback), ConfigOrigin.Default);
            return fallback;
        }

        if (node is not ScalarNode scalar)
        {
            Fail(key, node, $"expected a single value, got {node.KindName}");
            Context.Record(fullKey, format(fallback), ConfigOrigin.Default);
            return fallback;
        }

        var (value, error) = parse(scalar.Value);
        if (error is not null)
        {
            Fail(key, node, $"{error}; got '{scalar.Value}'");
            Context.Record(fullKey, format(fallback), ConfigOrigin.Default);
            return fallback;
        }

        Context.Record(fullKey, format(value), node.Origin);
        return value;
    }

    private void Fail(string key, ConfigNode node, string message)
        => Context.Errors.Add(new ConfigError(KeyOf(key), node.Origin, message));

    private static string Range(double min, double max)
        => string.Create(CultureInfo.InvariantCulture, $"out of range: must be between {min} and {max}");
}
