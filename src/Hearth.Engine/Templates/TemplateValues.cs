using System.Collections;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Hearth.Engine.Templates;

/// <summary>Jinja's undefined value: renders as nothing, is falsy, and chains (<c>x.y.z</c> stays undefined).</summary>
internal sealed class Undefined
{
    public static readonly Undefined Instance = new();

    private Undefined() { }

    public override string ToString() => "";
}

/// <summary>A mapping value (dicts, <c>namespace()</c>, messages). Keeps insertion order like Python's dict.</summary>
internal sealed class TemplateDict : IEnumerable<KeyValuePair<string, object?>>
{
    private readonly List<string> _order = [];
    private readonly Dictionary<string, object?> _values = new(StringComparer.Ordinal);

    public bool IsNamespace { get; init; }

    public int Count => _order.Count;

    public IEnumerable<string> Keys => _order;

    public object? this[string key]
    {
        get => _values[key];
        set
        {
            if (!_values.ContainsKey(key)) _order.Add(key);
            _values[key] = value;
        }
    }

    public bool TryGet(string key, out object? value) => _values.TryGetValue(key, out value);

    public bool ContainsKey(string key) => _values.ContainsKey(key);

    public IEnumerator<KeyValuePair<string, object?>> GetEnumerator()
    {
        foreach (var k in _order) yield return new KeyValuePair<string, object?>(k, _values[k]);
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>A callable value: a macro, a bound method or a global function.</summary>
internal sealed class TemplateCallable(string name, Func<List<object?>, List<(string Name, object? Value)>, object?> invoke)
{
    public string Name { get; } = name;

    public object? Invoke(List<object?> args, List<(string Name, object? Value)> kwargs) => invoke(args, kwargs);
}

/// <summary>Conversions between CLR/JSON values and template values, and Python-compatible rendering.</summary>
internal static class TemplateValues
{
    /// <summary>Converts caller data (strings, numbers, dictionaries, lists, JSON) to template values.</summary>
    public static object? FromClr(object? value) => value switch
    {
        null => null,
        Undefined or TemplateDict or TemplateCallable => value,
        string or bool or long or double => value,
        int i => (long)i,
        short s => (long)s,
        byte b => (long)b,
        uint u => (long)u,
        float f => (double)f,
        decimal m => (double)m,
        JsonElement je => FromJson(je),
        JsonNode jn => FromJson(JsonSerializer.SerializeToElement(jn)),
        IReadOnlyDictionary<string, object?> d => FromPairs(d),
        IDictionary<string, object?> d => FromPairs(d),
        IDictionary d => FromPairs(d.Keys.Cast<object>().Select(k => new KeyValuePair<string, object?>(Convert.ToString(k, CultureInfo.InvariantCulture)!, d[k]))),
        IEnumerable e => e.Cast<object?>().Select(FromClr).ToList(),
        _ => FromJson(JsonSerializer.SerializeToElement(value, value.GetType())),
    };

    private static TemplateDict FromPairs(IEnumerable<KeyValuePair<string, object?>> pairs)
    {
        var d = new TemplateDict();
        foreach (var (k, v) in pairs) d[k] = FromClr(v);
        return d;
    }

    public static object? FromJson(JsonElement e)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.Object:
                var d = new TemplateDict();
                foreach (var p in e.EnumerateObject()) d[p.Name] = FromJson(p.Value);
                return d;
            case JsonValueKind.Array:
                return e.EnumerateArray().Select(FromJson).ToList();
            case JsonValueKind.String:
                return e.GetString();
            case JsonValueKind.Number:
                return e.TryGetInt64(out var l) ? l : e.GetDouble();
            case JsonValueKind.True:
                return true;
            case JsonValueKind.False:
                return false;
            default:
                return null;
        }
    }

    public static bool IsTruthy(object? v) => v switch
    {
        null or Undefined => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length > 0,
        List<object?> l => l.Count > 0,
        TemplateDict d => d.Count > 0,
        _ => true,
    };

    /// <summary>Python's <c>str()</c> of a value, which is what <c>{{ x }}</c> prints.</summary>
    public static string ToStr(object? v) => v switch
    {
        null => "None",
        Undefined => "",
        string s => s,
        bool b => b ? "True" : "False",
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => FormatDouble(d),
        _ => Repr(v),
    };

    /// <summary>Python's <c>repr()</c>.</summary>
    public static string Repr(object? v)
    {
        switch (v)
        {
            case string s:
                var quote = s.Contains('\'', StringComparison.Ordinal) && !s.Contains('"', StringComparison.Ordinal) ? '"' : '\'';
                var sb = new StringBuilder().Append(quote);
                foreach (var c in s)
                {
                    if (c == quote || c == '\\') sb.Append('\\').Append(c);
                    else if (c == '\n') sb.Append("\\n");
                    else if (c == '\r') sb.Append("\\r");
                    else if (c == '\t') sb.Append("\\t");
                    else if (c < 0x20 || c == 0x7F) sb.Append("\\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
                    else sb.Append(c);
                }
                return sb.Append(quote).ToString();
            case List<object?> l:
                return "[" + string.Join(", ", l.Select(Repr)) + "]";
            case TemplateDict d:
                return d.IsNamespace
                    ? "<Namespace " + string.Join(", ", d.Select(p => p.Key + "=" + Repr(p.Value))) + ">"
                    : "{" + string.Join(", ", d.Select(p => Repr(p.Key) + ": " + Repr(p.Value))) + "}";
            case TemplateCallable c:
                return "<function " + c.Name + ">";
            default:
                return ToStr(v);
        }
    }

    public static string FormatDouble(double d)
    {
        if (double.IsNaN(d)) return "nan";
        if (double.IsPositiveInfinity(d)) return "inf";
        if (double.IsNegativeInfinity(d)) return "-inf";
        if (d == Math.Floor(d) && Math.Abs(d) < 1e16) return d.ToString("0.0", CultureInfo.InvariantCulture);
        var r = d.ToString("R", CultureInfo.InvariantCulture);
        return r.Contains('E', StringComparison.Ordinal) ? r.Replace("E", "e", StringComparison.Ordinal) : r;
    }

    /// <summary>
    /// JSON as Hugging Face's <c>tojson</c> filter writes it (Python <c>json.dumps</c> with <c>ensure_ascii=False</c>):
    /// separators ", " and ": " (or "," with an indent), keys in insertion order unless sorted.
    /// </summary>
    public static string ToJson(object? v, int? indent = null, bool sortKeys = false, bool ensureAscii = false)
    {
        var sb = new StringBuilder();
        WriteJson(sb, v, indent, sortKeys, ensureAscii, 0);
        return sb.ToString();
    }

    private static void WriteJson(StringBuilder sb, object? v, int? indent, bool sortKeys, bool ensureAscii, int depth)
    {
        void NewLine(int level)
        {
            if (indent is null) return;
            sb.Append('\n').Append(' ', indent.Value * level);
        }

        switch (v)
        {
            case null or Undefined:
                sb.Append("null");
                return;
            case bool b:
                sb.Append(b ? "true" : "false");
                return;
            case long l:
                sb.Append(l.ToString(CultureInfo.InvariantCulture));
                return;
            case double d:
                sb.Append(double.IsNaN(d) ? "NaN" : double.IsInfinity(d) ? (d > 0 ? "Infinity" : "-Infinity") : FormatDouble(d));
                return;
            case string s:
                WriteJsonString(sb, s, ensureAscii);
                return;
            case List<object?> list:
                if (list.Count == 0)
                {
                    sb.Append("[]");
                    return;
                }
                sb.Append('[');
                for (var i = 0; i < list.Count; i++)
                {
                    if (i > 0) sb.Append(indent is null ? ", " : ",");
                    NewLine(depth + 1);
                    WriteJson(sb, list[i], indent, sortKeys, ensureAscii, depth + 1);
                }
                NewLine(depth);
                sb.Append(']');
                return;
            case TemplateDict dict:
                if (dict.Count == 0)
                {
                    sb.Append("{}");
                    return;
                }
                sb.Append('{');
                var first = true;
                IEnumerable<KeyValuePair<string, object?>> pairs = sortKeys ? dict.OrderBy(p => p.Key, StringComparer.Ordinal) : dict;
                foreach (var (k, val) in pairs)
                {
                    if (!first) sb.Append(indent is null ? ", " : ",");
                    first = false;
                    NewLine(depth + 1);
                    WriteJsonString(sb, k, ensureAscii);
                    sb.Append(": ");
                    WriteJson(sb, val, indent, sortKeys, ensureAscii, depth + 1);
                }
                NewLine(depth);
                sb.Append('}');
                return;
            default:
                throw new ChatTemplateException($"Object of type {v.GetType().Name} is not JSON serializable in the chat template.");
        }
    }

    private static void WriteJsonString(StringBuilder sb, string s, bool ensureAscii)
    {
        sb.Append('"');
        foreach (var c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                default:
                    if (c < 0x20 || (ensureAscii && c > 0x7E))
                        sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }
        sb.Append('"');
    }
}
