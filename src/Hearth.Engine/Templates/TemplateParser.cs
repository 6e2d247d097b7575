using System.Globalization;

namespace Hearth.Engine.Templates;

// ---- AST ----
internal abstract record Node(int Position);

internal sealed record TextNode(string Text, int Position) : Node(Position);

internal sealed record OutputNode(Expr Expr, int Position) : Node(Position);

internal sealed record IfNode(List<(Expr Condition, List<Node> Body)> Branches, List<Node>? Else, int Position) : Node(Position);

internal sealed record ForNode(List<string> Targets, Expr Iterable, Expr? Filter, List<Node> Body, List<Node>? Else, int Position) : Node(Position);

internal sealed record SetNode(string Name, string? Attribute, Expr? Value, List<Node>? Body, int Position) : Node(Position);

internal sealed record MacroNode(string Name, List<(string Name, Expr? Default)> Parameters, List<Node> Body, int Position) : Node(Position);

internal sealed record LoopControlNode(bool IsBreak, int Position) : Node(Position);

internal sealed record ExprStatementNode(Expr Expr, int Position) : Node(Position);

internal abstract record Expr(int Position);

internal sealed record LiteralExpr(object? Value, int Position) : Expr(Position);

internal sealed record NameExpr(string Name, int Position) : Expr(Position);

internal sealed record ListExpr(List<Expr> Items, bool IsTuple, int Position) : Expr(Position);

internal sealed record DictExpr(List<(Expr Key, Expr Value)> Items, int Position) : Expr(Position);

internal sealed record AttributeExpr(Expr Target, string Name, int Position) : Expr(Position);

internal sealed record IndexExpr(Expr Target, Expr Index, int Position) : Expr(Position);

internal sealed record SliceExpr(Expr Target, Expr? Start, Expr? Stop, Expr? Step, int Position) : Expr(Position);

internal sealed record CallExpr(Expr Target, List<Expr> Args, List<(string Name, Expr Value)> Kwargs, int Position) : Expr(Position);

internal sealed record FilterExpr(Expr Target, string Name, List<Expr> Args, List<(string Name, Expr Value)> Kwargs, int Position) : Expr(Position);

internal sealed record TestExpr(Expr Target, string Name, List<Expr> Args, bool Negated, int Position) : Expr(Position);

internal sealed record UnaryExpr(string Op, Expr Operand, int Position) : Expr(Position);

internal sealed record BinaryExpr(string Op, Expr Left, Expr Right, int Position) : Expr(Position);

internal sealed record ConditionalExpr(Expr Condition, Expr Then, Expr? Else, int Position) : Expr(Position);

/// <summary>Recursive-descent parser for the Jinja subset chat templates use.</summary>
internal sealed class TemplateParser
{
    private readonly string _src;
    private readonly List<TemplateToken> _t;
    private int _i;

    private TemplateParser(string source)
    {
        _src = source;
        _t = TemplateLexer.Tokenize(source);
    }

    public static List<Node> Parse(string source)
    {
        var p = new TemplateParser(source);
        var body = p.ParseBlock(out var end);
        if (end is not null) throw p.Error($"Unexpected '{{% {end} %}}'", p.Peek.Position);
        return body;
    }

    private TemplateToken Peek => _t[_i];

    private ChatTemplateException Error(string message, int position) =>
        new($"{message} at {TemplateLexer.Where(_src, position)} of the chat template.");

    private ChatTemplateException Unsupported(string construct, int position) =>
        new($"Unsupported Jinja construct '{construct}' at {TemplateLexer.Where(_src, position)} of the chat template.");

    private TemplateToken Next() => _t[_i++];

    private bool IsOp(string op) => Peek.Kind == TokenKind.Operator && Peek.Value == op;

    private bool IsName(string name) => Peek.Kind == TokenKind.Name && Peek.Value == name;

    private void ExpectOp(string op)
    {
        if (!IsOp(op)) throw Error($"Expected '{op}' but found '{Describe(Peek)}'", Peek.Position);
        _i++;
    }

    private string ExpectName()
    {
        if (Peek.Kind != TokenKind.Name) throw Error($"Expected a name but found '{Describe(Peek)}'", Peek.Position);
        return Next().Value;
    }

    private void Expect(TokenKind kind)
    {
        if (Peek.Kind != kind) throw Error($"Expected end of tag but found '{Describe(Peek)}'", Peek.Position);
        _i++;
    }

    private static string Describe(TemplateToken t) => t.Kind switch
    {
        TokenKind.End => "end of template",
        TokenKind.ExprEnd => "}}",
        TokenKind.StmtEnd => "%}",
        _ => t.Value,
    };

    private static readonly HashSet<string> _blockEnds =
        ["endif", "elif", "else", "endfor", "endset", "endmacro", "endgeneration", "endfilter", "endcall"];

    // Parses nodes until an end keyword ({% endif %}, {% else %}...); returns the keyword (tag left open) or null at EOF.
    private List<Node> ParseBlock(out string? endKeyword)
    {
        var nodes = new List<Node>();
        while (true)
        {
            var tok = Peek;
            switch (tok.Kind)
            {
                case TokenKind.End:
                    endKeyword = null;
                    return nodes;
                case TokenKind.Text:
                    _i++;
                    nodes.Add(new TextNode(tok.Value, tok.Position));
                    break;
                case TokenKind.ExprStart:
                    _i++;
                    var e = ParseExpression();
                    Expect(TokenKind.ExprEnd);
                    nodes.Add(new OutputNode(e, tok.Position));
                    break;
                case TokenKind.StmtStart:
                    _i++;
                    var kw = Peek.Kind == TokenKind.Name ? Peek.Value : throw Error("Expected a statement name", Peek.Position);
                    if (_blockEnds.Contains(kw))
                    {
                        endKeyword = kw;
                        return nodes;
                    }
                    nodes.Add(ParseStatement(tok.Position));
                    break;
                default:
                    throw Error($"Unexpected '{Describe(tok)}'", tok.Position);
            }
        }
    }

    private void ExpectEnd(string keyword, int openPosition)
    {
        var end = Peek;
        if (end.Kind != TokenKind.Name || end.Value != keyword)
            throw Error($"Expected '{{% {keyword} %}}'", openPosition);
        _i++;
        Expect(TokenKind.StmtEnd);
    }

    private Node ParseStatement(int position)
    {
        var kwTok = Next();
        switch (kwTok.Value)
        {
            case "if":
            {
                var branches = new List<(Expr, List<Node>)>();
                var cond = ParseExpression();
                Expect(TokenKind.StmtEnd);
                List<Node>? elseBody = null;
                while (true)
                {
                    var body = ParseBlock(out var end);
                    if (end is null) throw Error("Unclosed '{% if %}'", position);
                    branches.Add((cond, body));
                    _i++; // keyword
                    if (end == "elif")
                    {
                        cond = ParseExpression();
                        Expect(TokenKind.StmtEnd);
                        continue;
                    }
                    if (end == "else")
                    {
                        Expect(TokenKind.StmtEnd);
                        elseBody = ParseBlock(out end);
                        if (end != "endif") throw Error("Expected '{% endif %}'", position);
                        _i++;
                    }
                    if (end != "endif") throw Error($"Unexpected '{{% {end} %}}' in '{{% if %}}'", position);
                    Expect(TokenKind.StmtEnd);
                    return new IfNode(branches, elseBody, position);
                }
            }
            case "for":
            {
                var targets = new List<string> { ExpectName() };
                while (IsOp(","))
                {
                    _i++;
                    targets.Add(ExpectName());
                }
                if (!IsName("in")) throw Error("Expected 'in'", Peek.Position);
                _i++;
                var iterable = ParseOr(allowConditional: false);
                Expr? filter = null;
                if (IsName("if"))
                {
                    _i++;
                    filter = ParseOr(allowConditional: false);
                }
                if (IsName("recursive")) throw Unsupported("for ... recursive", Peek.Position);
                Expect(TokenKind.StmtEnd);
                var body = ParseBlock(out var end);
                List<Node>? elseBody = null;
                if (end == "else")
                {
                    _i++;
                    Expect(TokenKind.StmtEnd);
                    elseBody = ParseBlock(out end);
                }
                if (end != "endfor") throw Error("Expected '{% endfor %}'", position);
                _i++;
                Expect(TokenKind.StmtEnd);
                return new ForNode(targets, iterable, filter, body, elseBody, position);
            }
            case "set":
            {
                var name = ExpectName();
                string? attr = null;
                if (IsOp("."))
                {
                    _i++;
                    attr = ExpectName();
                }
                if (IsOp(","))
                    throw Unsupported("set with several targets", Peek.Position);
                if (Peek.Kind == TokenKind.StmtEnd)
                {
                    _i++;
                    var body = ParseBlock(out var end);
                    if (end != "endset") throw Error("Expected '{% endset %}'", position);
                    _i++;
                    Expect(TokenKind.StmtEnd);
                    return new SetNode(name, attr, null, body, position);
                }
                ExpectOp("=");
                var value = ParseExpression();
                Expect(TokenKind.StmtEnd);
                return new SetNode(name, attr, value, null, position);
            }
            case "macro":
            {
                var name = ExpectName();
                var ps = new List<(string, Expr?)>();
                ExpectOp("(");
                while (!IsOp(")"))
                {
                    var pn = ExpectName();
                    Expr? def = null;
                    if (IsOp("="))
                    {
                        _i++;
                        def = ParseExpression();
                    }
                    ps.Add((pn, def));
                    if (IsOp(",")) _i++;
                    else break;
                }
                ExpectOp(")");
                Expect(TokenKind.StmtEnd);
                var body = ParseBlock(out var end);
                if (end != "endmacro") throw Error("Expected '{% endmacro %}'", position);
                _i++;
                Expect(TokenKind.StmtEnd);
                return new MacroNode(name, ps, body, position);
            }
            case "break" or "continue":
                Expect(TokenKind.StmtEnd);
                return new LoopControlNode(kwTok.Value == "break", position);
            case "do":
            {
                var e = ParseExpression();
                Expect(TokenKind.StmtEnd);
                return new ExprStatementNode(e, position);
            }
            case "generation":
            {
                // HF's {% generation %} marks assistant output for masks; it renders its body unchanged.
                Expect(TokenKind.StmtEnd);
                var body = ParseBlock(out var end);
                if (end != "endgeneration") throw Error("Expected '{% endgeneration %}'", position);
                _i++;
                Expect(TokenKind.StmtEnd);
                return new IfNode([(new LiteralExpr(true, position), body)], null, position);
            }
            default:
                throw Unsupported("{% " + kwTok.Value + " %}", kwTok.Position);
        }
    }

    public Expr ParseExpression() => ParseConditional();

    private Expr ParseConditional()
    {
        var e = ParseOr(allowConditional: true);
        return e;
    }

    private Expr ParseOr(bool allowConditional)
    {
        var left = ParseOrOnly();
        if (allowConditional && IsName("if"))
        {
            var pos = Next().Position;
            var cond = ParseOrOnly();
            Expr? elseExpr = null;
            if (IsName("else"))
            {
                _i++;
                elseExpr = ParseOr(allowConditional: true);
            }
            return new ConditionalExpr(cond, left, elseExpr, pos);
        }
        return left;
    }

    private Expr ParseOrOnly()
    {
        var left = ParseAnd();
        while (IsName("or"))
        {
            var pos = Next().Position;
            left = new BinaryExpr("or", left, ParseAnd(), pos);
        }
        return left;
    }

    private Expr ParseAnd()
    {
        var left = ParseNot();
        while (IsName("and"))
        {
            var pos = Next().Position;
            left = new BinaryExpr("and", left, ParseNot(), pos);
        }
        return left;
    }

    private Expr ParseNot()
    {
        if (IsName("not"))
        {
            var pos = Next().Position;
            return new UnaryExpr("not", ParseNot(), pos);
        }
        return ParseComparison();
    }

    private Expr ParseComparison()
    {
        var left = ParseConcat();
        while (true)
        {
            var pos = Peek.Position;
            if (Peek.Kind == TokenKind.Operator && Peek.Value is "==" or "!=" or "<" or ">" or "<=" or ">=")
            {
                var op = Next().Value;
                left = new BinaryExpr(op, left, ParseConcat(), pos);
            }
            else if (IsName("in"))
            {
                _i++;
                left = new BinaryExpr("in", left, ParseConcat(), pos);
            }
            else if (IsName("not") && _t[_i + 1].Kind == TokenKind.Name && _t[_i + 1].Value == "in")
            {
                _i += 2;
                left = new BinaryExpr("not in", left, ParseConcat(), pos);
            }
            else if (IsName("is"))
            {
                _i++;
                var negated = false;
                if (IsName("not"))
                {
                    _i++;
                    negated = true;
                }
                var name = ExpectName();
                var args = new List<Expr>();
                if (IsOp("("))
                {
                    _i++;
                    while (!IsOp(")"))
                    {
                        args.Add(ParseExpression());
                        if (IsOp(",")) _i++;
                        else break;
                    }
                    ExpectOp(")");
                }
                else if (Peek.Kind is TokenKind.String or TokenKind.Integer or TokenKind.Float
                         || (Peek.Kind == TokenKind.Name && Peek.Value is not ("and" or "or" or "else" or "if" or "not" or "in")))
                {
                    args.Add(ParseConcat());
                }
                left = new TestExpr(left, name, args, negated, pos);
            }
            else
            {
                return left;
            }
        }
    }

    private Expr ParseConcat()
    {
        var left = ParseAdditive();
        while (IsOp("~"))
        {
            var pos = Next().Position;
            left = new BinaryExpr("~", left, ParseAdditive(), pos);
        }
        return left;
    }

    private Expr ParseAdditive()
    {
        var left = ParseMultiplicative();
        while (IsOp("+") || IsOp("-"))
        {
            var tok = Next();
            left = new BinaryExpr(tok.Value, left, ParseMultiplicative(), tok.Position);
        }
        return left;
    }

    private Expr ParseMultiplicative()
    {
        var left = ParseUnary();
        while (IsOp("*") || IsOp("/") || IsOp("//") || IsOp("%"))
        {
            var tok = Next();
            left = new BinaryExpr(tok.Value, left, ParseUnary(), tok.Position);
        }
        return left;
    }

    private Expr ParseUnary()
    {
        if (IsOp("-") || IsOp("+"))
        {
            var tok = Next();
            return new UnaryExpr(tok.Value, ParseUnary(), tok.Position);
        }
        if (IsOp("**")) throw Unsupported("**", Peek.Position);
        return ParsePostfix(ParsePrimary());
    }

    private Expr ParsePostfix(Expr e)
    {
        while (true)
        {
            var pos = Peek.Position;
            if (IsOp("."))
            {
                _i++;
                var tok = Next();
                if (tok.Kind is not (TokenKind.Name or TokenKind.Integer)) throw Error("Expected an attribute name", tok.Position);
                e = tok.Kind == TokenKind.Integer
                    ? new IndexExpr(e, new LiteralExpr(long.Parse(tok.Value, CultureInfo.InvariantCulture), tok.Position), pos)
                    : new AttributeExpr(e, tok.Value, pos);
            }
            else if (IsOp("["))
            {
                _i++;
                Expr? start = null, stop = null, step = null;
                var isSlice = false;
                if (!IsOp(":")) start = ParseExpression();
                if (IsOp(":"))
                {
                    isSlice = true;
                    _i++;
                    if (!IsOp(":") && !IsOp("]")) stop = ParseExpression();
                    if (IsOp(":"))
                    {
                        _i++;
                        if (!IsOp("]")) step = ParseExpression();
                    }
                }
                ExpectOp("]");
                e = isSlice ? new SliceExpr(e, start, stop, step, pos) : new IndexExpr(e, start!, pos);
            }
            else if (IsOp("("))
            {
                _i++;
                var (args, kwargs) = ParseArguments();
                e = new CallExpr(e, args, kwargs, pos);
            }
            else if (IsOp("|"))
            {
                _i++;
                var name = ExpectName();
                List<Expr> args = [];
                List<(string, Expr)> kwargs = [];
                if (IsOp("("))
                {
                    _i++;
                    (args, kwargs) = ParseArguments();
                }
                e = new FilterExpr(e, name, args, kwargs, pos);
            }
            else
            {
                return e;
            }
        }
    }

    // After '(' : positional and keyword arguments up to and including ')'.
    private (List<Expr>, List<(string, Expr)>) ParseArguments()
    {
        var args = new List<Expr>();
        var kwargs = new List<(string, Expr)>();
        while (!IsOp(")"))
        {
            if (Peek.Kind == TokenKind.Name && _t[_i + 1].Kind == TokenKind.Operator && _t[_i + 1].Value == "=")
            {
                var n = Next().Value;
                _i++;
                kwargs.Add((n, ParseExpression()));
            }
            else
            {
                if (IsOp("*")) throw Unsupported("*args", Peek.Position);
                args.Add(ParseExpression());
            }
            if (IsOp(",")) _i++;
            else break;
        }
        ExpectOp(")");
        return (args, kwargs);
    }

    private Expr ParsePrimary()
    {
        var tok = Next();
        switch (tok.Kind)
        {
            case TokenKind.String:
            {
                var s = tok.Value;
                while (Peek.Kind == TokenKind.String) s += Next().Value; // adjacent literals concatenate
                return new LiteralExpr(s, tok.Position);
            }
            case TokenKind.Integer:
                return new LiteralExpr(long.Parse(tok.Value, CultureInfo.InvariantCulture), tok.Position);
            case TokenKind.Float:
                return new LiteralExpr(double.Parse(tok.Value, CultureInfo.InvariantCulture), tok.Position);
            case TokenKind.Name:
                return tok.Value switch
                {
                    "true" or "True" => new LiteralExpr(true, tok.Position),
                    "false" or "False" => new LiteralExpr(false, tok.Position),
                    "none" or "None" => new LiteralExpr(null, tok.Position),
                    _ => new NameExpr(tok.Value, tok.Position),
                };
            case TokenKind.Operator when tok.Value == "(":
            {
                if (IsOp(")"))
                {
                    _i++;
                    return new ListExpr([], true, tok.Position);
                }
                var first = ParseExpression();
                if (IsOp(")"))
                {
                    _i++;
                    return first;
                }
                var items = new List<Expr> { first };
                while (IsOp(","))
                {
                    _i++;
                    if (IsOp(")")) break;
                    items.Add(ParseExpression());
                }
                ExpectOp(")");
                return new ListExpr(items, true, tok.Position);
            }
            case TokenKind.Operator when tok.Value == "[":
            {
                var items = new List<Expr>();
                while (!IsOp("]"))
                {
                    items.Add(ParseExpression());
                    if (IsOp(",")) _i++;
                    else break;
                }
                ExpectOp("]");
                return new ListExpr(items, false, tok.Position);
            }
            case TokenKind.Operator when tok.Value == "{":
            {
                var items = new List<(Expr, Expr)>();
                while (!IsOp("}"))
                {
                    var k = ParseExpression();
                    ExpectOp(":");
                    items.Add((k, ParseExpression()));
                    if (IsOp(",")) _i++;
                    else break;
                }
                ExpectOp("}");
                return new DictExpr(items, tok.Position);
            }
            default:
                throw Error($"Unexpected '{Describe(tok)}' in an expression", tok.Position);
        }
    }
}
