using System.Collections;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Hearth.Configuration;

/// <summary>A parsed configuration value with its origin; the common tree for YAML and environment overrides.</summary>
internal abstract class ConfigNode(ConfigOrigin origin)
{
    public ConfigOrigin Origin { get; set; } = origin;

    public abstract string KindName { get; }
}

internal sealed class ScalarNode(string value, bool quoted, ConfigOrigin origin) : ConfigNode(origin)
{
    public string Value { get; } = value;

    /// <summary>True for YAML null (<c>~</c>, <c>null</c>, empty plain scalar).</summary>
    public bool IsNull => !quoted && (Value.Length == 0 || Value is "~" or "null" or "Null" or "NULL");

    public override string KindName => "a scalar";
}

internal sealed class MapNode(ConfigOrigin origin) : ConfigNode(origin)
{
    public List<KeyValuePair<string, ConfigNode>> Entries { get; } = [];

    public Dictionary<string, ConfigOrigin> KeyOrigins { get; } = new(StringComparer.Ordinal);

    public override string KindName => "a mapping";

    public ConfigNode? Get(string key)
    {
        foreach (var (k, v) in Entries)
        {
            if (k == key)
                return v;
        }

        return null;
    }

    public void Set(string key, ConfigNode value, ConfigOrigin keyOrigin)
    {
        KeyOrigins[key] = keyOrigin;
        for (var i = 0; i < Entries.Count; i++)
        {
            if (Entries[i].Key == key)
            {
                Entries[i] = new(key, value);
                return;
            }
        }

        Entries.Add(new(key, value));
    }
}

internal sealed class SequenceNode(ConfigOrigin origin) : ConfigNode(origin)
{
    public List<ConfigNode> Items { get; } = [];

    public override string KindName => "a sequence";
}

/// <summary>Reads YAML (keeping line numbers) and environment overrides into a <see cref="MapNode"/> tree.</summary>
internal static class ConfigTree
{
    public const string EnvironmentPrefix = "HEARTH_";

    public static MapNode ParseYaml(string text, string path, List<ConfigError> errors)
    {
        var root = new MapNode(new ConfigOrigin(ConfigOriginKind.File, path, 1));
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException ex)
        {
            var at = new ConfigOrigin(ConfigOriginKind.File, path, checked((int)ex.Start.Line));
            errors.Add(new ConfigError("(document)", at, "YAML syntax error: " + ex.Message));
            return root;
        }

        if (stream.Documents.Count == 0)
            return root;
        if (stream.Documents.Count > 1)
        {
            var second = stream.Documents[1].RootNode;
            errors.Add(new ConfigError("(document)", At(path, second), "expected a single YAML document, found " + stream.Documents.Count));
        }

        var top = stream.Documents[0].RootNode;
        if (top is YamlScalarNode s && string.IsNullOrEmpty(s.Value))
            return root;
        if (Convert(top, path, "(document)", errors) is MapNode map)
            return map;
        errors.Add(new ConfigError("(document)", At(path, top), "the top level of the configuration must be a mapping of sections"));
        return root;
    }

    /// <summary>
    /// Applies <c>HEARTH_SECTION__KEY[__SUBKEY]=value</c> variables onto <paramref name="root"/>. Keys are lower-cased;
    /// a value meant for a list is split on commas by the binder. Variables without <c>__</c> (such as <c>HEARTH_HOME</c>) are not keys.
    /// </summary>
    public static void ApplyEnvironment(MapNode root, IDictionary environment, List<ConfigError> errors)
    {
        var vars = new List<(string Name, string Value)>();
        foreach (DictionaryEntry e in environment)
        {
            if (e.Key is string name && name.StartsWith(EnvironmentPrefix, StringComparison.Ordinal) && name.Contains("__", StringComparison.Ordinal))
                vars.Add((name, e.Value as string ?? ""));
        }

        // Deterministic order: shorter paths first so that a section variable cannot clobber a deeper one unpredictably.
        foreach (var (name, value) in vars.OrderBy(v => v.Name, StringComparer.Ordinal))
        {
            var origin = new ConfigOrigin(ConfigOriginKind.Environment, name);
            var parts = name[EnvironmentPrefix.Length..].Split("__");
            var keyPath = string.Join('.', parts).ToLowerInvariant();
            if (parts.Any(p => p.Length == 0))
            {
                errors.Add(new ConfigError(keyPath, origin, "empty key segment in environment variable name"));
                continue;
            }

            var node = root;
            var ok = true;
            for (var i = 0; i < parts.Length - 1 && ok; i++)
            {
                var key = parts[i].ToLowerInvariant();
                switch (node.Get(key))
                {
                    case MapNode child:
                        node = child;
                        break;
                    case null:
                        var created = new MapNode(origin);
                        node.Set(key, created, origin);
                        node = created;
                        break;
                    case ScalarNode { IsNull: true }:
                        var replaced = new MapNode(origin);
                        node.Set(key, replaced, origin);
                        node = replaced;
                        break;
                    case var other:
                        errors.Add(new ConfigError(keyPath, origin, $"cannot set a sub-key: '{string.Join('.', parts.Take(i + 1)).ToLowerInvariant()}' is {other.KindName} (set at {other.Origin})"));
                        ok = false;
                        break;
                }
            }

            if (ok)
                node.Set(parts[^1].ToLowerInvariant(), new ScalarNode(value, quoted: true, origin), origin);
        }
    }

    private static ConfigOrigin At(string path, YamlNode node) => new(ConfigOriginKind.File, path, checked((int)node.Start.Line));

    private static ConfigNode? Convert(YamlNode node, string path, string keyPath, List<ConfigError> errors)
    {
        switch (node)
        {
            case YamlScalarNode scalar:
                return new ScalarNode(scalar.Value ?? "", scalar.Style is ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted or ScalarStyle.Literal or ScalarStyle.Folded, At(path, node));
            case YamlSequenceNode seq:
                var list = new SequenceNode(At(path, node));
                var index = 0;
                foreach (var item in seq.Children)
                {
                    var converted = Convert(item, path, $"{keyPath}[{index++}]", errors);
                    if (converted is not null)
                        list.Items.Add(converted);
                }

                return list;
            case YamlMappingNode mapping:
                var map = new MapNode(At(path, node));
                foreach (var (k, v) in mapping.Children)
                {
                    if (k is not YamlScalarNode { Value: { Length: > 0 } key })
                    {
                        errors.Add(new ConfigError(keyPath, At(path, k), "mapping keys must be plain strings"));
                        continue;
                    }

                    var childPath = keyPath == "(document)" ? key : keyPath + "." + key;
                    if (map.Get(key) is not null)
                    {
                        errors.Add(new ConfigError(childPath, At(path, k), $"duplicate key (first set at line {map.KeyOrigins[key].Line})"));
                        continue;
                    }

                    var value = Convert(v, path, childPath, errors);
                    if (value is not null)
                        map.Set(key, value, At(path, k));
                }

                return map;
            default:
                errors.Add(new ConfigError(keyPath, At(path, node), "unsupported YAML node"));
                return null;
        }
    }
}
