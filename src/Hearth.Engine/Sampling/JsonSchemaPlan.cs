using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Hearth.Engine.Sampling;

/// <summary>
/// A JSON schema compiled for <see cref="JsonConstraint"/>: what each value may be, as a table of nodes. Enforced:
/// <c>type</c> (one or a list), <c>enum</c> / <c>const</c> of strings, numbers, booleans and null, <c>properties</c> with
/// <c>required</c> (an object with declared properties gets only those, each at most once, in any order),
/// <c>additionalProperties</c>, <c>items</c>, <c>minItems</c> / <c>maxItems</c>, <c>anyOf</c> / <c>oneOf</c> whose
/// alternatives start differently (e.g. a type or null), and local <c>$ref</c> into <c>$defs</c> / <c>definitions</c>.
/// Annotations (<c>description</c>, <c>title</c>, <c>default</c>, …) and value ranges and patterns (<c>minimum</c>,
/// <c>maxLength</c>, <c>pattern</c>, <c>format</c>, …) are accepted but not enforced. Anything else that changes which
/// documents are valid (<c>allOf</c>, <c>not</c>, <c>if</c>, <c>patternProperties</c>, <c>prefixItems</c>, alternatives
/// that start alike, …) is refused with an error that names the keyword and where it is.
/// </summary>
internal sealed class JsonSchemaPlan
{
    /// <summary>Kinds of JSON value a node admits.</summary>
    [Flags]
    internal enum Kinds : byte
    {
        Object = 1, Array = 2, String = 4, Number = 8, Integer = 16, Boolean = 32, Null = 64,
        Any = Object | Array | String | Number | Integer | Boolean | Null,
    }

    /// <summary>One schema position. Node -1 means "any JSON value".</summary>
    internal sealed class Node
    {
        public Kinds Kinds = Kinds.Any;
        public byte[][]? Enum;           // allowed values as compact JSON bytes
        public byte[][] Names = [];      // declared property names (UTF-8)
        public int[] Children = [];      // schema node of each property
        public ulong Required;           // bit i: Names[i] is required
        public bool Closed;              // only the declared properties may appear
        public int Items = -1;
        public int MinItems;
        public int MaxItems = int.MaxValue;
        public int[]? ByKind;            // anyOf/oneOf: alternative node per first-byte kind (-2: none)
    }

    private static readonly HashSet<string> Ignored = new(StringComparer.Ordinal)
    {
        "$schema", "$id", "$comment", "title", "description", "default", "examples", "deprecated", "readOnly", "writeOnly",
        "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minLength", "maxLength", "pattern",
        "format", "contentEncoding", "contentMediaType", "minProperties", "maxProperties", "uniqueItems", "strict",
        "$defs", "definitions", "nullable",
    };

    private static readonly JsonSerializerOptions Compact = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly List<Node> _nodes = [];
    private readonly Dictionary<string, int> _refs = new(StringComparer.Ordinal);
    private readonly JsonElement _root;

    private JsonSchemaPlan(JsonElement root) => _root = root;

    /// <summary>The nodes; <see cref="Root"/> is the top-level object.</summary>
    public IReadOnlyList<Node> Nodes => _nodes;

    /// <summary>The node of the whole document.</summary>
    public int Root { get; private set; }

    /// <summary>Compiles <paramref name="schema"/>; the top level must describe an object.</summary>
    /// <exception cref="ArgumentException">A keyword the plan cannot enforce, named with its path (e.g. <c>#/properties/a/allOf</c>).</exception>
    public static JsonSchemaPlan Compile(JsonElement schema)
    {
        var plan = new JsonSchemaPlan(schema);
        plan.Root = plan.Add(schema, "#");
        if (plan.Root >= 0 && (((plan._nodes[plan.Root].Kinds & Kinds.Object) == 0 && plan._nodes[plan.Root].ByKind is null) || plan._nodes[plan.Root].Enum is not null))
            throw new ArgumentException("The schema's top level must be an object (JSON mode produces one object).", nameof(schema));
        if (plan.Root >= 0 && plan._nodes[plan.Root].ByKind is { } alternatives && alternatives[0] < -1)
            throw new ArgumentException("The schema's top level must admit an object (JSON mode produces one object).", nameof(schema));
        return plan;
    }

    // Returns the node index for a schema (-1: anything).
    private int Add(JsonElement schema, string path)
    {
        if (schema.ValueKind == JsonValueKind.True) return -1;
        if (schema.ValueKind != JsonValueKind.Object)
            throw Unsupported(path, "a schema must be an object or true");
        if (schema.TryGetProperty("$ref", out var reference))
            return Ref(reference.GetString() ?? "", path);

        var node = new Node();
        var index = _nodes.Count;
        _nodes.Add(node);
        var constrained = false;
        foreach (var p in schema.EnumerateObject())
        {
            var at = path + "/" + p.Name;
            switch (p.Name)
            {
                case "type":
                    node.Kinds = p.Value.ValueKind == JsonValueKind.Array
                        ? p.Value.EnumerateArray().Aggregate((Kinds)0, (k, t) => k | Kind(t, at))
                        : Kind(p.Value, at);
                    constrained = true;
                    break;
                case "enum" or "const":
                    var values = p.Name == "const" ? [p.Value] : p.Value.EnumerateArray().ToArray();
                    if (values.Length is 0 or > 64) throw Unsupported(at, "between 1 and 64 values are supported");
                    node.Enum = [.. values.Select(v => v.ValueKind is JsonValueKind.Object or JsonValueKind.Array
                        ? throw Unsupported(at, "only strings, numbers, booleans and null can be listed")
                        : Encoding.UTF8.GetBytes(JsonSerializer.Serialize(v, Compact)))];
                    constrained = true;
                    break;
                case "properties":
                    var props = p.Value.EnumerateObject().ToArray();
                    if (props.Length > 64) throw Unsupported(at, "at most 64 properties are supported");
                    node.Names = new byte[props.Length][];
                    node.Children = new int[props.Length];
                    for (var i = 0; i < props.Length; i++)
                    {
                        var name = JsonSerializer.Serialize(props[i].Name, Compact);
                        if (name.Length != props[i].Name.Length + 2)
                            throw Unsupported(at + "/" + props[i].Name, "property names that need escaping are not supported");
                        node.Names[i] = Encoding.UTF8.GetBytes(props[i].Name);
                        node.Children[i] = Add(props[i].Value, at + "/" + props[i].Name);
                    }
                    node.Closed = true;
                    constrained = true;
                    break;
                case "required" or "additionalProperties" or "minItems" or "maxItems":
                    break; // read below, once properties are known
                case "items":
                    node.Items = Add(p.Value, at);
                    constrained = true;
                    break;
                case "anyOf" or "oneOf":
                    node.ByKind = Alternatives(p.Value, at);
                    constrained = true;
                    break;
                default:
                    if (!Ignored.Contains(p.Name))
                        throw Unsupported(at, "this keyword is not enforced by JSON mode");
                    break;
            }
        }

        if (schema.TryGetProperty("additionalProperties", out var additional))
        {
            if (additional.ValueKind == JsonValueKind.False) node.Closed = true;
            else if (additional.ValueKind != JsonValueKind.True && !(additional.ValueKind == JsonValueKind.Object && !additional.EnumerateObject().Any()))
                throw Unsupported(path + "/additionalProperties", "only true, false or {} are supported");
            else if (node.Names.Length > 0)
                throw Unsupported(path + "/additionalProperties", "declared properties plus other properties is not supported (set it to false)");
            constrained = true;
        }
        if (schema.TryGetProperty("required", out var required))
        {
            foreach (var r in required.EnumerateArray())
            {
                var name = r.GetString() ?? "";
                var i = Array.FindIndex(node.Names, n => n.AsSpan().SequenceEqual(Encoding.UTF8.GetBytes(name)));
                if (i < 0) throw Unsupported(path + "/required", $"'{name}' is required but not among the properties");
                node.Required |= 1UL << i;
            }
        }
        if (schema.TryGetProperty("minItems", out var min)) node.MinItems = min.GetInt32();
        if (schema.TryGetProperty("maxItems", out var max)) node.MaxItems = max.GetInt32();
        if (node.MinItems < 0 || node.MaxItems < node.MinItems)
            throw Unsupported(path + "/maxItems", "minItems and maxItems must satisfy 0 <= minItems <= maxItems");
        if (!constrained && node.Enum is null && node.MinItems == 0 && node.MaxItems == int.MaxValue)
        {
            _nodes.RemoveAt(index); // only annotations: any value
            return -1;
        }
        return index;
    }

    private int Ref(string reference, string path)
    {
        if (_refs.TryGetValue(reference, out var known)) return known;
        var target = _root;
        if (!reference.StartsWith("#/", StringComparison.Ordinal) && reference != "#")
            throw Unsupported(path + "/$ref", $"only local references (#/$defs/...) are supported, not '{reference}'");
        foreach (var part in reference.Length > 2 ? reference[2..].Split('/') : [])
        {
            if (target.ValueKind != JsonValueKind.Object || !target.TryGetProperty(part.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal), out target))
                throw Unsupported(path + "/$ref", $"'{reference}' does not resolve");
        }
        // Reserve the index first so a recursive reference points at the node being built.
        _refs[reference] = _nodes.Count;
        var index = Add(target, reference);
        _refs[reference] = index;
        return index;
    }

    // anyOf/oneOf: the first byte of the value must pick the alternative.
    private int[] Alternatives(JsonElement list, string path)
    {
        var byKind = new int[6];
        Array.Fill(byKind, -2);
        var i = 0;
        foreach (var alternative in list.EnumerateArray())
        {
            var node = Add(alternative, $"{path}/{i++}");
            var kinds = node < 0 ? Kinds.Any : _nodes[node].ByKind is null ? _nodes[node].Kinds : throw Unsupported(path, "nested anyOf/oneOf is not supported");
            if (node >= 0 && _nodes[node].Enum is not null)
                throw Unsupported(path, "enum inside anyOf/oneOf is not supported");
            for (var k = 0; k < 6; k++)
            {
                if (!Starts(kinds, k)) continue;
                if (byKind[k] != -2) throw Unsupported(path, "alternatives that can start with the same character are not supported");
                byKind[k] = node;
            }
        }
        return byKind;
    }

    /// <summary>The kind slot of a value's first byte: 0 object, 1 array, 2 string, 3 number, 4 true/false, 5 null; -1 none.</summary>
    public static int KindSlot(byte first) => first switch
    {
        (byte)'{' => 0,
        (byte)'[' => 1,
        (byte)'"' => 2,
        (byte)'-' or (>= (byte)'0' and <= (byte)'9') => 3,
        (byte)'t' or (byte)'f' => 4,
        (byte)'n' => 5,
        _ => -1,
    };

    private static bool Starts(Kinds kinds, int slot) => slot switch
    {
        0 => (kinds & Kinds.Object) != 0,
        1 => (kinds & Kinds.Array) != 0,
        2 => (kinds & Kinds.String) != 0,
        3 => (kinds & (Kinds.Number | Kinds.Integer)) != 0,
        4 => (kinds & Kinds.Boolean) != 0,
        5 => (kinds & Kinds.Null) != 0,
        _ => false,
    };

    /// <summary>Whether a value starting with <paramref name="first"/> is of a kind <paramref name="kinds"/> admits.</summary>
    public static bool Admits(Kinds kinds, byte first) => KindSlot(first) is var slot and >= 0 && Starts(kinds, slot);

    private static Kinds Kind(JsonElement type, string path) => type.GetString() switch
    {
        "object" => Kinds.Object,
        "array" => Kinds.Array,
        "string" => Kinds.String,
        "number" => Kinds.Number,
        "integer" => Kinds.Integer,
        "boolean" => Kinds.Boolean,
        "null" => Kinds.Null,
        var other => throw Unsupported(path, $"unknown type '{other}'"),
    };

    private static ArgumentException Unsupported(string path, string why) => new($"JSON schema {path}: {why}.");
}
