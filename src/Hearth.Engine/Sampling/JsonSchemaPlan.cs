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
/// that start alike, keywords beside <c>$ref</c> or <c>anyOf</c> other than a <c>type</c>, …) is refused with an error
/// that names the keyword and where it is, and so is a schema that is not one (a <c>type</c> that is not a string, a
/// <c>required</c> that is not a list of names, a <c>$ref</c> cycle, …).
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
        public int MinDepth;             // least nesting a value needs (0: a scalar fits), above MaxDepth: none can be written
        public int ObjectDepth;          // nesting an object of this node needs: itself and its required properties
        public int ArrayDepth;           // nesting an array of this node needs: itself and its minItems items
        public int ChildDepth;           // the largest MinDepth of a declared property
    }

    /// <summary>A nesting need that cannot be met (no value can be written).</summary>
    internal const int Unwritable = JsonConstraint.MaxDepth + 1;

    // Keywords that decide which documents are valid, refused beside $ref and anyOf/oneOf (which would drop them).
    private static readonly string[] Constraining =
        ["type", "enum", "const", "properties", "required", "additionalProperties", "items", "minItems", "maxItems", "anyOf", "oneOf"];

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
    private readonly HashSet<string> _following = new(StringComparer.Ordinal); // $refs to a $ref being resolved
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
        try
        {
            plan.Root = plan.Add(schema, "#");
        }
        catch (Exception ex) when (ex is InvalidOperationException or FormatException)
        {
            // What the checks below do not foresee in a malformed schema (e.g. text that is not valid UTF-16).
            throw new ArgumentException($"JSON schema: {ex.Message}", nameof(schema), ex);
        }
        if (plan.Root >= 0 && (((plan._nodes[plan.Root].Kinds & Kinds.Object) == 0 && plan._nodes[plan.Root].ByKind is null) || plan._nodes[plan.Root].Enum is not null))
            throw new ArgumentException("The schema's top level must be an object (JSON mode produces one object).", nameof(schema));
        if (plan.Root >= 0 && plan._nodes[plan.Root].ByKind is { } alternatives && alternatives[0] < -1)
            throw new ArgumentException("The schema's top level must admit an object (JSON mode produces one object).", nameof(schema));
        plan.MeasureDepths();
        if (plan.Root >= 0 && plan.ObjectNeed(plan._nodes[plan.Root].ByKind is { } byKind ? byKind[0] : plan.Root) > JsonConstraint.MaxDepth)
            throw Unsupported("#", $"no object matching it fits in {JsonConstraint.MaxDepth} levels of nesting (a required property recurses?)");
        return plan;
    }

    // The least nesting a value of the node needs (0 for any value).
    private int Depth(int node) => node < 0 ? 0 : _nodes[node].MinDepth;

    private int ObjectNeed(int node) => node < 0 ? 1 : _nodes[node].ObjectDepth;

    private int ArrayNeed(int node) => node < 0 ? 1 : _nodes[node].ArrayDepth;

    // How deep each node's values must nest at least: the recognizer offers a key, an item or a bracket only where
    // what must follow still fits under JsonConstraint.MaxDepth, so a generation never reaches a state with no way on.
    // Starts from "unwritable" and lowers to the fixpoint (recursive schemas included).
    private void MeasureDepths()
    {
        foreach (var n in _nodes)
            n.MinDepth = n.ObjectDepth = n.ArrayDepth = Unwritable;
        for (var changed = true; changed;)
        {
            changed = false;
            foreach (var n in _nodes)
            {
                var obj = 1;
                for (var i = 0; i < n.Children.Length; i++)
                {
                    if ((n.Required & (1UL << i)) != 0)
                        obj = Math.Max(obj, 1 + Depth(n.Children[i]));
                }
                var arr = n.MinItems > 0 ? 1 + Depth(n.Items) : 1;
                int min;
                if (n.ByKind is { } alternatives)
                {
                    min = Unwritable;
                    for (var k = 0; k < alternatives.Length; k++)
                    {
                        if (alternatives[k] == -2) continue;
                        min = Math.Min(min, k == 0 ? ObjectNeed(alternatives[k]) : k == 1 ? ArrayNeed(alternatives[k]) : 0);
                    }
                }
                else if (n.Enum is not null || (n.Kinds & ~(Kinds.Object | Kinds.Array)) != 0)
                {
                    min = 0;
                }
                else
                {
                    min = Math.Min((n.Kinds & Kinds.Object) != 0 ? obj : Unwritable, (n.Kinds & Kinds.Array) != 0 ? arr : Unwritable);
                }
                obj = Math.Min(obj, Unwritable);
                arr = Math.Min(arr, Unwritable);
                min = Math.Min(min, Unwritable);
                if (obj < n.ObjectDepth || arr < n.ArrayDepth || min < n.MinDepth)
                {
                    (n.ObjectDepth, n.ArrayDepth, n.MinDepth) = (Math.Min(obj, n.ObjectDepth), Math.Min(arr, n.ArrayDepth), Math.Min(min, n.MinDepth));
                    changed = true;
                }
            }
        }
        foreach (var n in _nodes)
            n.ChildDepth = n.Children.Length == 0 ? 0 : n.Children.Max(Depth);
    }

    // Returns the node index for a schema (-1: anything).
    private int Add(JsonElement schema, string path)
    {
        if (schema.ValueKind == JsonValueKind.True) return -1;
        if (schema.ValueKind != JsonValueKind.Object)
            throw Unsupported(path, "a schema must be an object or true");
        if (schema.TryGetProperty("$ref", out var reference))
        {
            // Beside $ref (2019-09 on) keywords apply too; enforcing the reference alone would let through what they refuse.
            foreach (var p in schema.EnumerateObject())
            {
                if (p.Name != "$ref" && !Ignored.Contains(p.Name))
                    throw Unsupported(path + "/" + p.Name, "keywords beside $ref are not supported");
            }
            if (reference.ValueKind != JsonValueKind.String)
                throw Unsupported(path + "/$ref", "a reference is a string");
            return Ref(reference.GetString()!, path);
        }

        var node = new Node();
        var index = _nodes.Count;
        _nodes.Add(node);
        var constrained = false;
        var typed = schema.TryGetProperty("type", out var type);
        if (typed)
        {
            // Read first: a recursive $ref below (a property listed before "type", as Pydantic writes them) sees the kinds.
            node.Kinds = Types(type, path + "/type");
            constrained = true;
        }
        foreach (var p in schema.EnumerateObject())
        {
            var at = path + "/" + p.Name;
            switch (p.Name)
            {
                case "type":
                    break; // read above
                case "enum" or "const":
                    if (p.Name == "enum" && p.Value.ValueKind != JsonValueKind.Array)
                        throw Unsupported(at, "enum is a list of values");
                    var values = p.Name == "const" ? [p.Value] : p.Value.EnumerateArray().ToArray();
                    if (values.Length is 0 or > 64) throw Unsupported(at, "between 1 and 64 values are supported");
                    node.Enum = [.. values.Select(v => v.ValueKind is JsonValueKind.Object or JsonValueKind.Array
                        ? throw Unsupported(at, "only strings, numbers, booleans and null can be listed")
                        : Literal(v))];
                    constrained = true;
                    break;
                case "properties":
                    if (p.Value.ValueKind != JsonValueKind.Object)
                        throw Unsupported(at, "properties is an object of name to schema");
                    var props = p.Value.EnumerateObject().ToArray();
                    if (props.Length > 64) throw Unsupported(at, "at most 64 properties are supported");
                    node.Names = new byte[props.Length][];
                    node.Children = new int[props.Length];
                    for (var i = 0; i < props.Length; i++)
                    {
                        if (props[i].Name.Any(c => c is '"' or '\\' or < ' '))
                            throw Unsupported(at + "/" + props[i].Name, "property names that need escaping are not supported");
                        node.Names[i] = Encoding.UTF8.GetBytes(props[i].Name);
                        if (Array.FindIndex(node.Names, 0, i, n => n.AsSpan().SequenceEqual(node.Names[i])) >= 0)
                            throw Unsupported(at + "/" + props[i].Name, "the property is declared twice");
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
                    foreach (var other in Constraining)
                    {
                        if (other != p.Name && other != "type" && schema.TryGetProperty(other, out _))
                            throw Unsupported(path + "/" + other, $"keywords beside {p.Name} other than type are not supported");
                    }
                    node.ByKind = Alternatives(p.Value, at, typed ? node.Kinds : Kinds.Any);
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
            if (required.ValueKind != JsonValueKind.Array)
                throw Unsupported(path + "/required", "required is a list of property names");
            foreach (var r in required.EnumerateArray())
            {
                if (r.ValueKind != JsonValueKind.String)
                    throw Unsupported(path + "/required", $"required lists property names, not {r.GetRawText()}");
                var name = r.GetString()!;
                var i = Array.FindIndex(node.Names, n => n.AsSpan().SequenceEqual(Encoding.UTF8.GetBytes(name)));
                if (i < 0) throw Unsupported(path + "/required", $"'{name}' is required but not among the properties");
                node.Required |= 1UL << i;
            }
        }
        if (schema.TryGetProperty("minItems", out var min)) node.MinItems = Count(min, path + "/minItems");
        if (schema.TryGetProperty("maxItems", out var max)) node.MaxItems = Count(max, path + "/maxItems");
        if (node.MaxItems < node.MinItems)
            throw Unsupported(path + "/maxItems", "minItems and maxItems must satisfy 0 <= minItems <= maxItems");
        if (typed && node.Enum is { } listed)
        {
            // Both apply: only the listed values of the type.
            node.Enum = [.. listed.Where(v => Admits(node.Kinds, v[0])
                && !(KindSlot(v[0]) == 3 && (node.Kinds & Kinds.Number) == 0 && v.AsSpan().IndexOfAny((byte)'.', (byte)'e', (byte)'E') >= 0))];
            if (node.Enum.Length == 0)
                throw Unsupported(path + "/type", "none of the listed values has this type");
        }
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
        if (target.ValueKind == JsonValueKind.Object && target.TryGetProperty("$ref", out _))
        {
            // A reference to a reference builds no node of its own, so no index can be reserved: follow the chain,
            // refusing one that comes back to where it started (it would describe no value).
            if (!_following.Add(reference))
                throw Unsupported(path + "/$ref", $"'{reference}' refers back to itself through $ref alone");
            var followed = Add(target, reference);
            _following.Remove(reference);
            _refs[reference] = followed;
            return followed;
        }
        // Reserve the index first so a recursive reference points at the node being built.
        _refs[reference] = _nodes.Count;
        var index = Add(target, reference);
        _refs[reference] = index;
        return index;
    }

    // anyOf/oneOf: the first byte of the value must pick the alternative; a type beside them keeps the kinds it admits.
    private int[] Alternatives(JsonElement list, string path, Kinds allowed)
    {
        if (list.ValueKind != JsonValueKind.Array || list.GetArrayLength() == 0)
            throw Unsupported(path, "a non-empty list of schemas is needed");
        var byKind = new int[6];
        Array.Fill(byKind, -2);
        var i = 0;
        foreach (var alternative in list.EnumerateArray())
        {
            var node = Add(alternative, $"{path}/{i++}");
            var kinds = node < 0 ? Kinds.Any : _nodes[node].ByKind is null ? _nodes[node].Kinds : throw Unsupported(path, "nested anyOf/oneOf is not supported");
            if (node >= 0 && _nodes[node].Enum is { } values)
            {
                // Listed values start the kinds of their first bytes (e.g. an enum of strings, or a string enum and null).
                kinds = 0;
                foreach (var v in values)
                    kinds |= KindSlot(v[0]) switch { 2 => Kinds.String, 3 => Kinds.Number, 4 => Kinds.Boolean, _ => Kinds.Null };
            }
            for (var k = 0; k < 6; k++)
            {
                if (!Starts(kinds, k) || !Starts(allowed, k)) continue;
                if (byKind[k] != -2) throw Unsupported(path, "alternatives that can start with the same character are not supported");
                if (k == 3 && (allowed & Kinds.Number) == 0 && (node < 0 || (kinds & Kinds.Number) != 0))
                    throw Unsupported(path, "an integer type beside alternatives that admit any number is not supported");
                byKind[k] = node;
            }
        }
        if (byKind.All(k => k == -2))
            throw Unsupported(path, "no alternative admits a value of the type beside it");
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

    // "type": one name or a non-empty list of names.
    private static Kinds Types(JsonElement type, string path)
    {
        if (type.ValueKind != JsonValueKind.Array)
            return Kind(type, path);
        if (type.GetArrayLength() == 0)
            throw Unsupported(path, "an empty list of types admits no value");
        return type.EnumerateArray().Aggregate((Kinds)0, (k, t) => k | Kind(t, path));
    }

    private static int Count(JsonElement value, string path) =>
        value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var n) && n >= 0
            ? n
            : throw Unsupported(path, $"a count is a non-negative integer, not {value.GetRawText()}");

    // A listed value as the recognizer matches it: compact JSON, strings with only the escapes JSON requires (other
    // characters, emoji included, as raw UTF-8 the way a model writes them).
    private static byte[] Literal(JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.String)
            return Encoding.UTF8.GetBytes(JsonSerializer.Serialize(value, Compact));
        var text = new StringBuilder("\"");
        foreach (var c in value.GetString()!)
        {
            _ = c switch
            {
                '"' => text.Append("\\\""),
                '\\' => text.Append("\\\\"),
                '\n' => text.Append("\\n"),
                '\r' => text.Append("\\r"),
                '\t' => text.Append("\\t"),
                '\b' => text.Append("\\b"),
                '\f' => text.Append("\\f"),
                < ' ' => text.Append(System.Globalization.CultureInfo.InvariantCulture, $"\\u{(int)c:x4}"),
                _ => text.Append(c),
            };
        }
        return Encoding.UTF8.GetBytes(text.Append('"').ToString());
    }

    private static Kinds Kind(JsonElement type, string path) => type.ValueKind != JsonValueKind.String
        ? throw Unsupported(path, $"a type is a name such as \"string\", not {type.GetRawText()}")
        : type.GetString() switch
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
