using System.Globalization;
using System.Text;

namespace Hearth.Engine.Templates;

/// <summary>An error in a chat template: unsupported construct, syntax error or runtime error, with its position.</summary>
public sealed class ChatTemplateException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ChatTemplateException(string message) : base(message) { }

    /// <summary>Creates the exception with an inner exception.</summary>
    public ChatTemplateException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>Creates an empty exception.</summary>
    public ChatTemplateException() { }
}

internal enum TokenKind { Text, ExprStart, ExprEnd, StmtStart, StmtEnd, Name, String, Integer, Float, Operator, End }

internal readonly record struct TemplateToken(TokenKind Kind, string Value, int Position);

/// <summary>
/// Splits a Jinja template into text and tag tokens, applying whitespace control the way Hugging Face
/// configures Jinja for chat templates: <c>trim_blocks</c> (drop the first newline after a block tag),
/// <c>lstrip_blocks</c> (drop spaces/tabs before a block tag at the start of a line) and the explicit
/// <c>-</c> markers (<c>{%-</c>, <c>-%}</c>, <c>{{-</c>, <c>-}}</c>).
/// </summary>
internal sealed class TemplateLexer
{
    private readonly string _src;
    private readonly List<TemplateToken> _tokens = [];
    private int _pos;

    private TemplateLexer(string source) => _src = source;

    public static List<TemplateToken> Tokenize(string source)
    {
        var lexer = new TemplateLexer(source);
        lexer.Run();
        return lexer._tokens;
    }

    public static string Where(string source, int position)
    {
        var line = 1;
        var col = 1;
        for (var i = 0; i < position && i < source.Length; i++)
        {
            if (source[i] == '\n') { line++; col = 1; }
            else col++;
        }
        return $"line {line}, column {col}";
    }

    private ChatTemplateException Error(string message, int position) =>
        new($"{message} at {Where(_src, position)} of the chat template.");

    private void Run()
    {
        var trimNextNewline = false; // trim_blocks after a block tag / comment
        var stripNextWhitespace = false; // a '-' at the end of the previous tag
        while (_pos < _src.Length)
        {
            var open = FindTagOpen(_pos);
            var textEnd = open < 0 ? _src.Length : open;
            var text = _src[_pos..textEnd];
            var textStart = _pos;

            var before = text.Length;
            if (stripNextWhitespace) text = text.TrimStart();
            else if (trimNextNewline && text.StartsWith('\n')) text = text[1..];
            else if (trimNextNewline && text.StartsWith("\r\n", StringComparison.Ordinal)) text = text[2..];
            textStart += before - text.Length;

            if (open >= 0)
            {
                var kind = _src[open + 1];
                var minus = open + 2 < _src.Length && _src[open + 2] == '-';
                var plus = open + 2 < _src.Length && _src[open + 2] == '+';
                if (minus) text = text.TrimEnd();
                else if (!plus && kind is '%' or '#')
                {
                    // lstrip_blocks: spaces/tabs between the line start and the block tag go.
                    var k = text.Length;
                    while (k > 0 && text[k - 1] is ' ' or '\t') k--;
                    if (k == 0 ? IsLineStart(textStart) : text[k - 1] == '\n') text = text[..k];
                }
            }
            if (text.Length > 0) _tokens.Add(new TemplateToken(TokenKind.Text, text, textStart));
            if (open < 0) break;

            _pos = open + 2;
            if (_pos < _src.Length && _src[_pos] is '-' or '+') _pos++;
            var tagKind = _src[open + 1];
            if (tagKind == '#')
            {
                var close = _src.IndexOf("#}", _pos, StringComparison.Ordinal);
                if (close < 0) throw Error("Unclosed comment", open);
                stripNextWhitespace = close > 0 && _src[close - 1] == '-';
                trimNextNewline = true;
                _pos = close + 2;
                continue;
            }
            _tokens.Add(new TemplateToken(tagKind == '{' ? TokenKind.ExprStart : TokenKind.StmtStart, "", open));
            var closer = tagKind == '{' ? '}' : '%';
            stripNextWhitespace = LexInside(closer, open);
            _tokens.Add(new TemplateToken(tagKind == '{' ? TokenKind.ExprEnd : TokenKind.StmtEnd, "", _pos));
            trimNextNewline = tagKind == '%';
        }
        _tokens.Add(new TemplateToken(TokenKind.End, "", _src.Length));
    }

    private bool IsLineStart(int textStart) => textStart == 0 || _src[textStart - 1] == '\n';

    private int FindTagOpen(int from)
    {
        for (var i = from; i < _src.Length - 1; i++)
        {
            if (_src[i] == '{' && _src[i + 1] is '{' or '%' or '#') return i;
        }
        return -1;
    }

    // Lexes tokens until the closing "}}" / "%}"; returns whether it had a '-' (strip following whitespace).
    private bool LexInside(char closer, int tagStart)
    {
        while (true)
        {
            while (_pos < _src.Length && char.IsWhiteSpace(_src[_pos])) _pos++;
            if (_pos >= _src.Length) throw Error("Unclosed tag", tagStart);
            var c = _src[_pos];
            if ((c == '-' || c == '+') && _pos + 2 < _src.Length + 1 && _pos + 1 < _src.Length && _src[_pos + 1] == closer && _pos + 2 < _src.Length && _src[_pos + 2] == '}')
            {
                _pos += 3;
                return c == '-';
            }
            if (c == closer && _pos + 1 < _src.Length && _src[_pos + 1] == '}')
            {
                _pos += 2;
                return false;
            }
            var start = _pos;
            if (char.IsLetter(c) || c == '_')
            {
                while (_pos < _src.Length && (char.IsLetterOrDigit(_src[_pos]) || _src[_pos] == '_')) _pos++;
                _tokens.Add(new TemplateToken(TokenKind.Name, _src[start.._pos], start));
            }
            else if (char.IsAsciiDigit(c))
            {
                while (_pos < _src.Length && (char.IsAsciiDigit(_src[_pos]) || _src[_pos] == '_')) _pos++;
                var isFloat = false;
                if (_pos + 1 < _src.Length && _src[_pos] == '.' && char.IsAsciiDigit(_src[_pos + 1]))
                {
                    isFloat = true;
                    _pos++;
                    while (_pos < _src.Length && char.IsAsciiDigit(_src[_pos])) _pos++;
                }
                var lit = _src[start.._pos].Replace("_", "", StringComparison.Ordinal);
                _tokens.Add(new TemplateToken(isFloat ? TokenKind.Float : TokenKind.Integer, lit, start));
            }
            else if (c is '"' or '\'')
            {
                _tokens.Add(new TemplateToken(TokenKind.String, LexString(c), start));
            }
            else
            {
                string[] ops = ["//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">", "(", ")", "[", "]", "{", "}", ",", ".", ":", "|", "=", "?"];
                var op = ops.FirstOrDefault(o => string.CompareOrdinal(_src, _pos, o, 0, o.Length) == 0)
                    ?? throw Error($"Unexpected character '{c}'", _pos);
                _pos += op.Length;
                _tokens.Add(new TemplateToken(TokenKind.Operator, op, start));
            }
        }
    }

    private string LexString(char quote)
    {
        var start = _pos;
        _pos++;
        var sb = new StringBuilder();
        while (_pos < _src.Length && _src[_pos] != quote)
        {
            var ch = _src[_pos++];
            if (ch != '\\' || _pos >= _src.Length)
            {
                sb.Append(ch);
                continue;
            }
            var e = _src[_pos++];
            switch (e)
            {
                case 'n': sb.Append('\n'); break;
                case 't': sb.Append('\t'); break;
                case 'r': sb.Append('\r'); break;
                case '\\': sb.Append('\\'); break;
                case '\'': sb.Append('\''); break;
                case '"': sb.Append('"'); break;
                case 'u' when _pos + 4 <= _src.Length:
                    sb.Append((char)int.Parse(_src.AsSpan(_pos, 4), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                    _pos += 4;
                    break;
                default: sb.Append('\\').Append(e); break;
            }
        }
        if (_pos >= _src.Length) throw Error("Unterminated string literal", start);
        _pos++;
        return sb.ToString();
    }
}
