using System.Globalization;
using System.Text;
using static Hearth.Engine.Templates.TemplateValues;

namespace Hearth.Engine.Templates;

/// <summary>The Jinja filters and tests chat templates use, with Jinja/Hugging Face semantics.</summary>
internal static class TemplateFilters
{
    public static object? Apply(TemplateInterpreter interp, string name, object? value, List<object?> args, List<(string Name, object? Value)> kwargs, int position)
    {
        object? Arg(int i, string kw, object? def = null)
        {
            foreach (var (k, v) in kwargs) if (k == kw) return v;
            return i < args.Count ? args[i] : def;
        }

        switch (name)
        {
            case "trim":
                return Arg(0, "chars") is string chars ? ToStr(value).Trim(chars.ToCharArray()) : ToStr(value).Trim();
            case "upper":
                return ToStr(value).ToUpperInvariant();
            case "lower":
                return ToStr(value).ToLowerInvariant();
            case "capitalize":
                return Capitalize(ToStr(value));
            case "title":
                return Title(ToStr(value));
            case "string":
                return value is string s0 ? s0 : ToStr(value);
            case "safe":
                return value;
            case "int":
                return value switch
                {
                    long l => l,
                    double d => (long)d,
                    bool b => b ? 1L : 0L,
                    string s when long.TryParse(s.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var p) => p,
                    string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var pd) => (long)pd,
                    _ => Arg(0, "default", 0L),
                };
            case "float":
                return value switch
                {
                    long l => (double)l,
                    double d => d,
                    string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var p) => p,
                    _ => Arg(0, "default", 0.0),
                };
            case "abs":
                return value switch { long l => Math.Abs(l), double d => Math.Abs(d), _ => value };
            case "length" or "count":
                return value switch
                {
                    string s => (long)s.Length,
                    List<object?> l => (long)l.Count,
                    TemplateDict d => (long)d.Count,
                    null or Undefined => 0L,
                    _ => throw Error(interp, $"Object of type '{TemplateInterpreter.TypeName(value)}' has no length", position),
                };
            case "default" or "d":
            {
                var def = Arg(0, "default_value", "");
                var boolean = IsTruthy(Arg(1, "boolean", false));
                return value is Undefined || (boolean && !IsTruthy(value)) ? def : value;
            }
            case "join":
            {
                var sep = ToStr(Arg(0, "d", ""));
                var attr = Arg(1, "attribute");
                var items = AsList(interp, value, position);
                return string.Join(sep, items.Select(i => ToStr(attr is null ? i : Attr(i, ToStr(attr)))));
            }
            case "replace":
            {
                var s = ToStr(value);
                var old = ToStr(Arg(0, "old"));
                var with = ToStr(Arg(1, "new"));
                var count = Arg(2, "count");
                if (count is null) return s.Replace(old, with, StringComparison.Ordinal);
                var n = TemplateInterpreter.AsLong(count);
                var sb = new StringBuilder();
                var pos = 0;
                for (var k = 0; k < n; k++)
                {
                    var i = s.IndexOf(old, pos, StringComparison.Ordinal);
                    if (i < 0) break;
                    sb.Append(s, pos, i - pos).Append(with);
                    pos = i + old.Length;
                }
                return sb.Append(s, pos, s.Length - pos).ToString();
            }
            case "first":
                return value switch
                {
                    string s => s.Length > 0 ? s[0].ToString() : Undefined.Instance,
                    _ => AsList(interp, value, position) is { Count: > 0 } l ? l[0] : Undefined.Instance,
                };
            case "last":
                return value switch
                {
                    string s => s.Length > 0 ? s[^1].ToString() : Undefined.Instance,
                    _ => AsList(interp, value, position) is { Count: > 0 } l ? l[^1] : Undefined.Instance,
                };
            case "list":
                return value is string str ? str.Select(c => (object?)c.ToString()).ToList() : [.. AsList(interp, value, position)];
            case "reverse":
                return value is string rs ? new string(rs.Reverse().ToArray()) : AsList(interp, value, position).AsEnumerable().Reverse().ToList();
            case "unique":
            {
                var result = new List<object?>();
                foreach (var i in AsList(interp, value, position))
                    if (!result.Any(r => TemplateInterpreter.ValueEquals(r, i))) result.Add(i);
                return result;
            }
            case "sort":
            {
                var attr = Arg(2, "attribute");
                var reverse = IsTruthy(Arg(0, "reverse", false));
                var list = AsList(interp, value, position).ToList();
                list.Sort((a, b) => interp.Compare(attr is null ? a : Attr(a, ToStr(attr)), attr is null ? b : Attr(b, ToStr(attr)), position));
                if (reverse) list.Reverse();
                return list;
            }
            case "items":
                if (value is TemplateDict dict) return dict.Select(p => (object?)new List<object?> { p.Key, p.Value }).ToList();
                if (value is null or Undefined) return new List<object?>();
                throw Error(interp, $"'items' filter needs a mapping, got '{TemplateInterpreter.TypeName(value)}'", position);
            case "dictsort":
                if (value is TemplateDict ds)
                    return ds.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => (object?)new List<object?> { p.Key, p.Value }).ToList();
                throw Error(interp, "'dictsort' filter needs a mapping", position);
            case "tojson":
            {
                var indent = Arg(0, "indent");
                var sortKeys = IsTruthy(Arg(1, "sort_keys", false));
                var ensureAscii = IsTruthy(kwargs.FirstOrDefault(k => k.Name == "ensure_ascii").Value ?? false);
                return ToJson(value, indent is null ? null : (int)TemplateInterpreter.AsLong(indent), sortKeys, ensureAscii);
            }
            case "indent":
            {
                var width = Arg(0, "width", 4L);
                var pad = width is string ps ? ps : new string(' ', (int)TemplateInterpreter.AsLong(width));
                var first = IsTruthy(Arg(1, "first", false));
                var blank = IsTruthy(Arg(2, "blank", false));
                var lines = ToStr(value).Split('\n');
                var sb = new StringBuilder();
                for (var i = 0; i < lines.Length; i++)
                {
                    if (i > 0) sb.Append('\n');
                    var indentLine = (i > 0 || first) && (blank || lines[i].Length > 0);
                    if (indentLine) sb.Append(pad);
                    sb.Append(lines[i]);
                }
                return sb.ToString();
            }
            case "selectattr" or "rejectattr":
            {
                var attr = ToStr(Arg(0, "attr"));
                var select = name == "selectattr";
                var testName = args.Count > 1 ? ToStr(args[1]) : null;
                var testArgs = args.Skip(2).ToList();
                return AsList(interp, value, position).Where(item =>
                {
                    var v = Attr(item, attr);
                    var ok = testName is null ? IsTruthy(v) : Test(interp, testName, v, testArgs, position);
                    return ok == select;
                }).ToList();
            }
            case "select" or "reject":
            {
                var select = name == "select";
                var testName = args.Count > 0 ? ToStr(args[0]) : null;
                var testArgs = args.Skip(1).ToList();
                return AsList(interp, value, position).Where(item =>
                    (testName is null ? IsTruthy(item) : Test(interp, testName, item, testArgs, position)) == select).ToList();
            }
            case "map":
            {
                var attr = kwargs.FirstOrDefault(k => k.Name == "attribute").Value;
                if (attr is not null)
                {
                    var def = kwargs.FirstOrDefault(k => k.Name == "default").Value;
                    return AsList(interp, value, position).Select(i => Attr(i, ToStr(attr)) is Undefined && def is not null ? def : Attr(i, ToStr(attr))).ToList();
                }
                if (args.Count == 0) throw Error(interp, "'map' needs a filter name or attribute=", position);
                var filter = ToStr(args[0]);
                var rest = args.Skip(1).ToList();
                return AsList(interp, value, position).Select(i => Apply(interp, filter, i, rest, [], position)).ToList();
            }
            case "wordcount":
                return (long)ToStr(value).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length;
            case "batch":
            {
                var size = (int)TemplateInterpreter.AsLong(Arg(0, "linecount"));
                return AsList(interp, value, position).Chunk(size).Select(c => (object?)c.ToList()).ToList();
            }
            case "sum":
            {
                object? total = 0L;
                foreach (var i in AsList(interp, value, position))
                    total = total is long a && i is long b ? a + b : Convert.ToDouble(total, CultureInfo.InvariantCulture) + Convert.ToDouble(i, CultureInfo.InvariantCulture);
                return total;
            }
            case "min" or "max":
            {
                var list = AsList(interp, value, position);
                if (list.Count == 0) return Undefined.Instance;
                var best = list[0];
                foreach (var i in list.Skip(1))
                {
                    var c = interp.Compare(i, best, position);
                    if (name == "min" ? c < 0 : c > 0) best = i;
                }
                return best;
            }
            default:
                throw new ChatTemplateException($"Unsupported Jinja construct 'filter {name}' at {Where(interp, position)} of the chat template.");
        }
    }

    public static bool Test(TemplateInterpreter interp, string name, object? value, List<object?> args, int position)
    {
        return name switch
        {
            "defined" => value is not Undefined,
            "undefined" => value is Undefined,
            "none" => value is null,
            "string" => value is string,
            "number" => value is long or double,
            "integer" => value is long,
            "float" => value is double,
            "boolean" => value is bool,
            "true" => value is true,
            "false" => value is false,
            "mapping" => value is TemplateDict,
            "sequence" => value is List<object?> or string or TemplateDict,
            "iterable" => value is List<object?> or string or TemplateDict,
            "callable" => value is TemplateCallable,
            "odd" => TemplateInterpreter.AsLong(value) % 2 != 0,
            "even" => TemplateInterpreter.AsLong(value) % 2 == 0,
            "divisibleby" => TemplateInterpreter.AsLong(value) % TemplateInterpreter.AsLong(args[0]) == 0,
            "equalto" or "eq" or "==" or "sameas" => TemplateInterpreter.ValueEquals(value, args.Count > 0 ? args[0] : null),
            "ne" or "!=" => !TemplateInterpreter.ValueEquals(value, args.Count > 0 ? args[0] : null),
            "lower" => value is string ls && string.Equals(ls, ls.ToLowerInvariant(), StringComparison.Ordinal),
            "upper" => value is string us && string.Equals(us, us.ToUpperInvariant(), StringComparison.Ordinal),
            "in" => args.Count > 0 && args[0] switch
            {
                List<object?> l => l.Any(x => TemplateInterpreter.ValueEquals(x, value)),
                string s => value is string sub && s.Contains(sub, StringComparison.Ordinal),
                TemplateDict d => value is string k && d.ContainsKey(k),
                _ => false,
            },
            "gt" or ">" => interp.Compare(value, args[0], position) > 0,
            "ge" or ">=" => interp.Compare(value, args[0], position) >= 0,
            "lt" or "<" => interp.Compare(value, args[0], position) < 0,
            "le" or "<=" => interp.Compare(value, args[0], position) <= 0,
            _ => throw new ChatTemplateException($"Unsupported Jinja construct 'test {name}' at {Where(interp, position)} of the chat template."),
        };
    }

    private static object? Attr(object? item, string attr)
    {
        object? cur = item;
        foreach (var part in attr.Split('.'))
        {
            cur = cur switch
            {
                TemplateDict d => d.TryGet(part, out var v) ? v : Undefined.Instance,
                List<object?> l when long.TryParse(part, NumberStyles.Integer, CultureInfo.InvariantCulture, out var i) && i >= 0 && i < l.Count => l[(int)i],
                _ => Undefined.Instance,
            };
        }
        return cur;
    }

    private static List<object?> AsList(TemplateInterpreter interp, object? value, int position) => value switch
    {
        List<object?> l => l,
        TemplateDict d => d.Keys.Select(k => (object?)k).ToList(),
        string s => s.Select(c => (object?)c.ToString()).ToList(),
        null or Undefined => [],
        _ => throw Error(interp, $"'{TemplateInterpreter.TypeName(value)}' is not iterable", position),
    };

    private static ChatTemplateException Error(TemplateInterpreter interp, string message, int position) =>
        new($"{message} at {Where(interp, position)} of the chat template.");

    private static string Where(TemplateInterpreter interp, int position) => interp.Where(position);

    internal static string Capitalize(string s) => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant();

    internal static string Title(string s)
    {
        var sb = new StringBuilder(s.Length);
        var prevLetter = false;
        foreach (var c in s)
        {
            sb.Append(prevLetter ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c));
            prevLetter = char.IsLetter(c);
        }
        return sb.ToString();
    }
}
