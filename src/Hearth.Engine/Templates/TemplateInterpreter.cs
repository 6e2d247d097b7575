using System.Globalization;
using System.Text;
using static Hearth.Engine.Templates.TemplateValues;

namespace Hearth.Engine.Templates;

/// <summary>Evaluates a parsed template. One instance per render call (it carries the scopes and output).</summary>
internal sealed class TemplateInterpreter
{
    private readonly string _source;
    private readonly StringBuilder _out = new();
    private readonly List<Dictionary<string, object?>> _scopes = [];

    private sealed class LoopSignal(bool isBreak) : Exception
    {
        public bool IsBreak { get; } = isBreak;
    }

    public TemplateInterpreter(string source, Dictionary<string, object?> globals)
    {
        _source = source;
        _scopes.Add(globals);
        globals["namespace"] = new TemplateCallable("namespace", (args, kwargs) =>
        {
            var ns = new TemplateDict { IsNamespace = true };
            foreach (var a in args)
                if (a is TemplateDict d) foreach (var (k, v) in d) ns[k] = v;
            foreach (var (k, v) in kwargs) ns[k] = v;
            return ns;
        });
        globals["raise_exception"] = new TemplateCallable("raise_exception", (args, _) =>
            throw new ChatTemplateException("Chat template raised an exception: " + (args.Count > 0 ? ToStr(args[0]) : "")));
        globals["range"] = new TemplateCallable("range", (args, _) =>
        {
            long start = 0, stop, step = 1;
            if (args.Count == 1) stop = AsLong(args[0]);
            else
            {
                start = AsLong(args[0]);
                stop = AsLong(args[1]);
                if (args.Count > 2) step = AsLong(args[2]);
            }
            if (step == 0) throw new ChatTemplateException("range() step must not be zero in the chat template.");
            var list = new List<object?>();
            for (var i = start; step > 0 ? i < stop : i > stop; i += step) list.Add(i);
            return list;
        });
        globals["strftime_now"] = new TemplateCallable("strftime_now", (args, _) => Strftime(DateTime.Now, args.Count > 0 ? ToStr(args[0]) : ""));
        globals["dict"] = new TemplateCallable("dict", (_, kwargs) =>
        {
            var d = new TemplateDict();
            foreach (var (k, v) in kwargs) d[k] = v;
            return d;
        });
    }

    public string Render(List<Node> nodes)
    {
        Exec(nodes);
        return _out.ToString();
    }

    internal string Where(int position) => TemplateLexer.Where(_source, position);

    private ChatTemplateException Error(string message, int position) =>
        new($"{message} at {TemplateLexer.Where(_source, position)} of the chat template.");

    private ChatTemplateException Unsupported(string construct, int position) =>
        new($"Unsupported Jinja construct '{construct}' at {TemplateLexer.Where(_source, position)} of the chat template.");

    // ---- statements ----

    private void Exec(List<Node> nodes)
    {
        foreach (var n in nodes) Exec(n);
    }

    private void Exec(Node node)
    {
        switch (node)
        {
            case TextNode t:
                _out.Append(t.Text);
                break;
            case OutputNode o:
                _out.Append(ToStr(Eval(o.Expr)));
                break;
            case IfNode i:
                foreach (var (cond, body) in i.Branches)
                {
                    if (IsTruthy(Eval(cond)))
                    {
                        Exec(body);
                        return;
                    }
                }
                if (i.Else is not null) Exec(i.Else);
                break;
            case ForNode f:
                ExecFor(f);
                break;
            case SetNode s:
                ExecSet(s);
                break;
            case MacroNode m:
                DefineMacro(m);
                break;
            case LoopControlNode lc:
                throw new LoopSignal(lc.IsBreak);
            case ExprStatementNode e:
                Eval(e.Expr);
                break;
            default:
                throw Unsupported(node.GetType().Name, node.Position);
        }
    }

    private void ExecSet(SetNode s)
    {
        object? value;
        if (s.Body is not null)
        {
            var saved = _out.Length;
            Exec(s.Body);
            value = _out.ToString(saved, _out.Length - saved);
            _out.Length = saved;
        }
        else
        {
            value = Eval(s.Value!);
        }

        if (s.Attribute is null)
        {
            _scopes[^1][s.Name] = value;
            return;
        }
        var target = Lookup(s.Name);
        if (target is TemplateDict { IsNamespace: true } ns) ns[s.Attribute] = value;
        else throw Error($"Cannot assign attribute '{s.Attribute}' of '{s.Name}': only namespace() objects can be changed", s.Position);
    }

    private void ExecFor(ForNode f)
    {
        var iterable = Eval(f.Iterable);
        List<object?> items = iterable switch
        {
            List<object?> l => [.. l],
            TemplateDict d => [.. d.Keys],
            string str => [.. str.Select(c => (object?)c.ToString())],
            null or Undefined => [],
            _ => throw Error($"'{TypeName(iterable)}' is not iterable", f.Position),
        };

        var scope = new Dictionary<string, object?>(StringComparer.Ordinal);
        _scopes.Add(scope);
        try
        {
            if (f.Filter is not null)
            {
                var kept = new List<object?>();
                foreach (var item in items)
                {
                    Bind(f.Targets, item, scope, f.Position);
                    if (IsTruthy(Eval(f.Filter))) kept.Add(item);
                }
                items = kept;
            }

            for (var i = 0; i < items.Count; i++)
            {
                scope.Clear();
                Bind(f.Targets, items[i], scope, f.Position);
                var loop = new TemplateDict
                {
                    ["index"] = (long)(i + 1),
                    ["index0"] = (long)i,
                    ["revindex"] = (long)(items.Count - i),
                    ["revindex0"] = (long)(items.Count - i - 1),
                    ["first"] = i == 0,
                    ["last"] = i == items.Count - 1,
                    ["length"] = (long)items.Count,
                    ["previtem"] = i > 0 ? items[i - 1] : Undefined.Instance,
                    ["nextitem"] = i + 1 < items.Count ? items[i + 1] : Undefined.Instance,
                };
                var index = i;
                loop["cycle"] = new TemplateCallable("cycle", (args, _) => args.Count == 0 ? null : args[index % args.Count]);
                scope["loop"] = loop;
                try
                {
                    Exec(f.Body);
                }
                catch (LoopSignal signal)
                {
                    if (signal.IsBreak) break;
                }
            }
            if (items.Count == 0 && f.Else is not null) Exec(f.Else);
        }
        finally
        {
            _scopes.RemoveAt(_scopes.Count - 1);
        }
    }

    private void Bind(List<string> targets, object? item, Dictionary<string, object?> scope, int position)
    {
        if (targets.Count == 1)
        {
            scope[targets[0]] = item;
            return;
        }
        if (item is not List<object?> parts || parts.Count != targets.Count)
            throw Error($"Cannot unpack {TypeName(item)} into {targets.Count} loop variables", position);
        for (var i = 0; i < targets.Count; i++) scope[targets[i]] = parts[i];
    }

    private void DefineMacro(MacroNode m)
    {
        _scopes[^1][m.Name] = new TemplateCallable(m.Name, (args, kwargs) =>
        {
            var scope = new Dictionary<string, object?>(StringComparer.Ordinal);
            for (var i = 0; i < m.Parameters.Count; i++)
            {
                var (name, def) = m.Parameters[i];
                object? value = i < args.Count ? args[i] : def is null ? Undefined.Instance : Eval(def);
                scope[name] = value;
            }
            foreach (var (k, v) in kwargs) scope[k] = v;
            var saved = _out.Length;
            _scopes.Add(scope);
            try
            {
                Exec(m.Body);
            }
            finally
            {
                _scopes.RemoveAt(_scopes.Count - 1);
            }
            var result = _out.ToString(saved, _out.Length - saved);
            _out.Length = saved;
            return result;
        });
    }

    private object? Lookup(string name)
    {
        for (var i = _scopes.Count - 1; i >= 0; i--)
            if (_scopes[i].TryGetValue(name, out var v)) return v;
        return Undefined.Instance;
    }

    // ---- expressions ----

    private object? Eval(Expr e)
    {
        switch (e)
        {
            case LiteralExpr l:
                return l.Value;
            case NameExpr n:
                return Lookup(n.Name);
            case ListExpr l:
                return l.Items.Select(Eval).ToList();
            case DictExpr d:
            {
                var dict = new TemplateDict();
                foreach (var (k, v) in d.Items) dict[ToStr(Eval(k))] = Eval(v);
                return dict;
            }
            case AttributeExpr a:
                return GetAttribute(Eval(a.Target), a.Name, a.Position);
            case IndexExpr ix:
                return GetItem(Eval(ix.Target), Eval(ix.Index), ix.Position);
            case SliceExpr s:
                return Slice(Eval(s.Target), s.Start is null ? null : Eval(s.Start), s.Stop is null ? null : Eval(s.Stop), s.Step is null ? null : Eval(s.Step), s.Position);
            case CallExpr c:
            {
                var target = Eval(c.Target);
                if (target is not TemplateCallable fn)
                    throw Error($"'{Describe(c.Target)}' is not callable", c.Position);
                return fn.Invoke(c.Args.Select(Eval).ToList(), c.Kwargs.Select(k => (k.Name, Eval(k.Value))).ToList());
            }
            case FilterExpr f:
                return TemplateFilters.Apply(this, f.Name, Eval(f.Target), f.Args.Select(Eval).ToList(),
                    f.Kwargs.Select(k => (k.Name, Eval(k.Value))).ToList(), f.Position);
            case TestExpr t:
            {
                var r = TemplateFilters.Test(this, t.Name, Eval(t.Target), t.Args.Select(Eval).ToList(), t.Position);
                return t.Negated ? !r : r;
            }
            case UnaryExpr u:
            {
                var v = Eval(u.Operand);
                return u.Op switch
                {
                    "not" => !IsTruthy(v),
                    "-" => v switch
                    {
                        long l => (object)(-l),
                        double d => -d,
                        bool b => b ? -1L : 0L,
                        _ => throw Error($"Bad operand type for unary -: '{TypeName(v)}'", u.Position),
                    },
                    _ => v,
                };
            }
            case BinaryExpr b:
                return EvalBinary(b);
            case ConditionalExpr c:
                return IsTruthy(Eval(c.Condition)) ? Eval(c.Then) : c.Else is null ? Undefined.Instance : Eval(c.Else);
            default:
                throw Unsupported(e.GetType().Name, e.Position);
        }
    }

    private static string Describe(Expr e) => e switch
    {
        NameExpr n => n.Name,
        AttributeExpr a => Describe(a.Target) + "." + a.Name,
        _ => "expression",
    };

    private object? EvalBinary(BinaryExpr b)
    {
        if (b.Op == "and")
        {
            var l = Eval(b.Left);
            return IsTruthy(l) ? Eval(b.Right) : l;
        }
        if (b.Op == "or")
        {
            var l = Eval(b.Left);
            return IsTruthy(l) ? l : Eval(b.Right);
        }
        var left = Eval(b.Left);
        var right = Eval(b.Right);
        switch (b.Op)
        {
            case "~":
                return ToStr(left) + ToStr(right);
            case "==":
                return ValueEquals(left, right);
            case "!=":
                return !ValueEquals(left, right);
            case "<" or ">" or "<=" or ">=":
            {
                var c = Compare(left, right, b.Position);
                return b.Op switch { "<" => c < 0, ">" => c > 0, "<=" => c <= 0, _ => c >= 0 };
            }
            case "in":
                return Contains(right, left, b.Position);
            case "not in":
                return !Contains(right, left, b.Position);
            case "+":
                if (left is string ls && right is string rs) return ls + rs;
                if (left is List<object?> ll && right is List<object?> rl) return ll.Concat(rl).ToList();
                return Arith(b.Op, left, right, b.Position);
            case "*":
                if (left is string s1 && right is long n1) return string.Concat(Enumerable.Repeat(s1, (int)Math.Max(0, n1)));
                if (left is List<object?> l1 && right is long n2) return Enumerable.Repeat(l1, (int)Math.Max(0, n2)).SelectMany(x => x).ToList();
                return Arith(b.Op, left, right, b.Position);
            default:
                return Arith(b.Op, left, right, b.Position);
        }
    }

    private object? Arith(string op, object? left, object? right, int position)
    {
        if (left is bool lb) left = lb ? 1L : 0L;
        if (right is bool rb) right = rb ? 1L : 0L;
        if (left is long a && right is long c)
        {
            if (c == 0 && op is "/" or "//" or "%") throw Error("Division by zero", position);
            return op switch
            {
                "+" => (object)(a + c),
                "-" => a - c,
                "*" => a * c,
                "/" => (double)a / c,
                "//" => (long)Math.Floor((double)a / c),
                "%" => ((a % c) + c) % c,
                _ => throw Unsupported(op, position),
            };
        }
        if (left is long or double && right is long or double)
        {
            var x = Convert.ToDouble(left, CultureInfo.InvariantCulture);
            var y = Convert.ToDouble(right, CultureInfo.InvariantCulture);
            return op switch
            {
                "+" => x + y,
                "-" => x - y,
                "*" => x * y,
                "/" => x / y,
                "//" => Math.Floor(x / y),
                "%" => x - (y * Math.Floor(x / y)),
                _ => throw Unsupported(op, position),
            };
        }
        if (op == "%" && left is string fmt) return PercentFormat(fmt, right);
        throw Error($"Unsupported operand types for {op}: '{TypeName(left)}' and '{TypeName(right)}'", position);
    }

    private static string PercentFormat(string fmt, object? args)
    {
        var values = args is List<object?> l ? l : [args];
        var sb = new StringBuilder();
        var k = 0;
        for (var i = 0; i < fmt.Length; i++)
        {
            if (fmt[i] == '%' && i + 1 < fmt.Length)
            {
                var spec = fmt[++i];
                if (spec == '%') sb.Append('%');
                else sb.Append(spec == 'r' ? Repr(values[k++]) : ToStr(values[k++]));
            }
            else sb.Append(fmt[i]);
        }
        return sb.ToString();
    }

    internal static bool ValueEquals(object? a, object? b)
    {
        if (a is Undefined || b is Undefined) return a is Undefined && b is Undefined;
        if (a is null || b is null) return a is null && b is null;
        if (a is bool ab) a = ab ? 1L : 0L;
        if (b is bool bb) b = bb ? 1L : 0L;
        if (a is long or double && b is long or double)
            return Convert.ToDouble(a, CultureInfo.InvariantCulture) == Convert.ToDouble(b, CultureInfo.InvariantCulture);
        if (a is string sa && b is string sb) return sa == sb;
        if (a is List<object?> la && b is List<object?> lb2) return la.Count == lb2.Count && la.Zip(lb2).All(p => ValueEquals(p.First, p.Second));
        if (a is TemplateDict da && b is TemplateDict db)
            return da.Count == db.Count && da.All(p => db.TryGet(p.Key, out var v) && ValueEquals(p.Value, v));
        return ReferenceEquals(a, b);
    }

    internal int Compare(object? a, object? b, int position)
    {
        if (a is bool ab) a = ab ? 1L : 0L;
        if (b is bool bb) b = bb ? 1L : 0L;
        if (a is long or double && b is long or double)
            return Convert.ToDouble(a, CultureInfo.InvariantCulture).CompareTo(Convert.ToDouble(b, CultureInfo.InvariantCulture));
        if (a is string sa && b is string sb) return string.CompareOrdinal(sa, sb);
        if (a is List<object?> la && b is List<object?> lb)
        {
            for (var i = 0; i < Math.Min(la.Count, lb.Count); i++)
            {
                var c = Compare(la[i], lb[i], position);
                if (c != 0) return c;
            }
            return la.Count.CompareTo(lb.Count);
        }
        throw Error($"'<' not supported between '{TypeName(a)}' and '{TypeName(b)}'", position);
    }

    private bool Contains(object? container, object? item, int position) => container switch
    {
        string s => item is string sub ? s.Contains(sub, StringComparison.Ordinal) : throw Error("'in <string>' requires a string on the left", position),
        List<object?> l => l.Any(x => ValueEquals(x, item)),
        TemplateDict d => item is string k && d.ContainsKey(k),
        null or Undefined => false,
        _ => throw Error($"Argument of type '{TypeName(container)}' is not iterable", position),
    };

    internal static string TypeName(object? v) => v switch
    {
        null => "NoneType",
        Undefined => "Undefined",
        string => "str",
        bool => "bool",
        long => "int",
        double => "float",
        List<object?> => "list",
        TemplateDict { IsNamespace: true } => "Namespace",
        TemplateDict => "dict",
        TemplateCallable => "function",
        _ => v.GetType().Name,
    };

    internal static long AsLong(object? v) => v switch
    {
        long l => l,
        double d => (long)d,
        bool b => b ? 1 : 0,
        string s when long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var p) => p,
        _ => throw new ChatTemplateException($"Expected an integer in the chat template, got '{TypeName(v)}'."),
    };

    private object? GetItem(object? target, object? index, int position)
    {
        switch (target)
        {
            case List<object?> l when index is long i:
                if (i < 0) i += l.Count;
                return i >= 0 && i < l.Count ? l[(int)i] : Undefined.Instance;
            case string s when index is long i:
                if (i < 0) i += s.Length;
                return i >= 0 && i < s.Length ? s[(int)i].ToString() : Undefined.Instance;
            case TemplateDict d when index is string k:
                return d.TryGet(k, out var v) ? v : Undefined.Instance;
            case TemplateDict d:
                return d.TryGet(ToStr(index), out var v2) ? v2 : Undefined.Instance;
            case null or Undefined:
                return Undefined.Instance;
            default:
                if (index is string name) return GetAttribute(target, name, position);
                throw Error($"'{TypeName(target)}' object is not subscriptable with '{TypeName(index)}'", position);
        }
    }

    private object? Slice(object? target, object? start, object? stop, object? step, int position)
    {
        var st = step is null ? 1 : AsLong(step);
        if (st == 0) throw Error("Slice step cannot be zero", position);
        int len;
        if (target is string s) len = s.Length;
        else if (target is List<object?> l) len = l.Count;
        else throw Error($"'{TypeName(target)}' cannot be sliced", position);

        long Norm(object? v, long def)
        {
            if (v is null) return def;
            var x = AsLong(v);
            if (x < 0) x += len;
            return st > 0 ? Math.Clamp(x, 0, len) : Math.Clamp(x, -1, len - 1);
        }
        var a = Norm(start, st > 0 ? 0 : len - 1);
        var b = Norm(stop, st > 0 ? len : -1);
        var idx = new List<int>();
        for (var i = a; st > 0 ? i < b : i > b; i += st) idx.Add((int)i);
        if (target is string str) return string.Concat(idx.Select(i => str[i]));
        var list = (List<object?>)target!;
        return idx.Select(i => list[i]).ToList();
    }

    private object? GetAttribute(object? target, string name, int position)
    {
        switch (target)
        {
            case TemplateDict d:
                if (d.TryGet(name, out var v)) return v;
                if (!d.IsNamespace)
                {
                    switch (name)
                    {
                        case "items": return Method(name, _ => d.Select(p => (object?)new List<object?> { p.Key, p.Value }).ToList());
                        case "keys": return Method(name, _ => d.Keys.Select(k => (object?)k).ToList());
                        case "values": return Method(name, _ => d.Select(p => p.Value).ToList());
                        case "get": return Method(name, a => d.TryGet(ToStr(a[0]), out var x) ? x : a.Count > 1 ? a[1] : null);
                    }
                }
                return Undefined.Instance;
            case string s:
                return StringMethod(s, name, position);
            case List<object?> l:
                if (name is "append" or "pop" or "insert" or "extend" or "remove" or "clear")
                    throw Error($"Lists are immutable in chat templates ('{name}' is not allowed, as in Hugging Face's sandbox)", position);
                if (name == "index") return Method(name, a => (long)l.FindIndex(x => ValueEquals(x, a[0])));
                if (name == "count") return Method(name, a => (long)l.Count(x => ValueEquals(x, a[0])));
                return Undefined.Instance;
            case null or Undefined:
                return Undefined.Instance;
            default:
                return Undefined.Instance;
        }
    }

    private static TemplateCallable Method(string name, Func<List<object?>, object?> body) => new(name, (a, _) => body(a));

    private TemplateCallable StringMethod(string s, string name, int position)
    {
        static string Chars(List<object?> a) => a.Count > 0 && a[0] is string c ? c : "";
        return name switch
        {
            "strip" => Method(name, a => a.Count > 0 && a[0] is string c ? s.Trim(c.ToCharArray()) : s.Trim()),
            "lstrip" => Method(name, a => a.Count > 0 && a[0] is string c ? s.TrimStart(c.ToCharArray()) : s.TrimStart()),
            "rstrip" => Method(name, a => a.Count > 0 && a[0] is string c ? s.TrimEnd(c.ToCharArray()) : s.TrimEnd()),
            "upper" => Method(name, _ => s.ToUpperInvariant()),
            "lower" => Method(name, _ => s.ToLowerInvariant()),
            "title" => Method(name, _ => TemplateFilters.Title(s)),
            "capitalize" => Method(name, _ => TemplateFilters.Capitalize(s)),
            "startswith" => Method(name, a => a[0] is List<object?> l ? l.Any(p => s.StartsWith(ToStr(p), StringComparison.Ordinal)) : s.StartsWith(ToStr(a[0]), StringComparison.Ordinal)),
            "endswith" => Method(name, a => a[0] is List<object?> l ? l.Any(p => s.EndsWith(ToStr(p), StringComparison.Ordinal)) : s.EndsWith(ToStr(a[0]), StringComparison.Ordinal)),
            "replace" => Method(name, a => a.Count > 2
                ? ReplaceCount(s, ToStr(a[0]), ToStr(a[1]), AsLong(a[2]))
                : s.Replace(ToStr(a[0]), ToStr(a[1]), StringComparison.Ordinal)),
            "split" => Method(name, a => Split(s, a.Count > 0 && a[0] is string sep ? sep : null, a.Count > 1 ? AsLong(a[1]) : -1)),
            "join" => Method(name, a => string.Join(s, ((a[0] as List<object?>) ?? []).Select(ToStr))),
            "find" => Method(name, a => (long)s.IndexOf(ToStr(a[0]), StringComparison.Ordinal)),
            "count" => Method(name, a => (long)CountOf(s, ToStr(a[0]))),
            "format" => Method(name, a => FormatBraces(s, a)),
            "isdigit" => Method(name, _ => s.Length > 0 && s.All(char.IsDigit)),
            "isspace" => Method(name, _ => s.Length > 0 && s.All(char.IsWhiteSpace)),
            "isalpha" => Method(name, _ => s.Length > 0 && s.All(char.IsLetter)),
            "removeprefix" => Method(name, a => s.StartsWith(Chars(a), StringComparison.Ordinal) ? s[Chars(a).Length..] : s),
            "removesuffix" => Method(name, a => Chars(a).Length > 0 && s.EndsWith(Chars(a), StringComparison.Ordinal) ? s[..^Chars(a).Length] : s),
            _ => throw Unsupported("str." + name, position),
        };
    }

    private static int CountOf(string s, string sub)
    {
        if (sub.Length == 0) return s.Length + 1;
        var n = 0;
        for (var i = s.IndexOf(sub, StringComparison.Ordinal); i >= 0; i = s.IndexOf(sub, i + sub.Length, StringComparison.Ordinal)) n++;
        return n;
    }

    private static string ReplaceCount(string s, string old, string with, long count)
    {
        if (count < 0) return s.Replace(old, with, StringComparison.Ordinal);
        var sb = new StringBuilder();
        var pos = 0;
        for (var n = 0; n < count; n++)
        {
            var i = s.IndexOf(old, pos, StringComparison.Ordinal);
            if (i < 0) break;
            sb.Append(s, pos, i - pos).Append(with);
            pos = i + old.Length;
        }
        return sb.Append(s, pos, s.Length - pos).ToString();
    }

    private static List<object?> Split(string s, string? sep, long max)
    {
        if (sep is null)
            return s.Split((char[]?)null, max < 0 ? int.MaxValue : (int)max + 1, StringSplitOptions.RemoveEmptyEntries).Select(x => (object?)x).ToList();
        return s.Split(sep, max < 0 ? int.MaxValue : (int)max + 1, StringSplitOptions.None).Select(x => (object?)x).ToList();
    }

    private static string FormatBraces(string s, List<object?> args)
    {
        var sb = new StringBuilder();
        var k = 0;
        for (var i = 0; i < s.Length; i++)
        {
            if (s[i] == '{' && i + 1 < s.Length && s[i + 1] == '}')
            {
                sb.Append(ToStr(k < args.Count ? args[k++] : null));
                i++;
            }
            else sb.Append(s[i]);
        }
        return sb.ToString();
    }

    private static string Strftime(DateTime now, string format)
    {
        var sb = new StringBuilder();
        for (var i = 0; i < format.Length; i++)
        {
            if (format[i] != '%' || i + 1 >= format.Length)
            {
                sb.Append(format[i]);
                continue;
            }
            var c = format[++i];
            sb.Append(c switch
            {
                'd' => now.ToString("dd", CultureInfo.InvariantCulture),
                'm' => now.ToString("MM", CultureInfo.InvariantCulture),
                'Y' => now.ToString("yyyy", CultureInfo.InvariantCulture),
                'y' => now.ToString("yy", CultureInfo.InvariantCulture),
                'b' => now.ToString("MMM", CultureInfo.InvariantCulture),
                'B' => now.ToString("MMMM", CultureInfo.InvariantCulture),
                'H' => now.ToString("HH", CultureInfo.InvariantCulture),
                'M' => now.ToString("mm", CultureInfo.InvariantCulture),
                'S' => now.ToString("ss", CultureInfo.InvariantCulture),
                'A' => now.ToString("dddd", CultureInfo.InvariantCulture),
                'a' => now.ToString("ddd", CultureInfo.InvariantCulture),
                '%' => "%",
                _ => "%" + c,
            });
        }
        return sb.ToString();
    }
}
