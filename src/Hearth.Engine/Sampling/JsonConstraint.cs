using System.Runtime.CompilerServices;

namespace Hearth.Engine.Sampling;

/// <summary>
/// JSON mode: an incremental recognizer of one JSON object, fed the UTF-8 bytes of each generated token. A token is
/// allowed when its bytes keep the output a prefix of valid JSON (RFC 8259: strings with escapes and well-formed UTF-8,
/// numbers, literals, nesting); the output starts with <c>{</c> and the generation ends once that object is closed.
/// Whitespace between tokens is one space, or one newline followed by up to <see cref="MaxIndent"/> spaces or tabs (the
/// rule llama.cpp's JSON grammar uses), and nesting is bounded by <see cref="MaxDepth"/>, so a model cannot stall in
/// blank lines or endless brackets. The state is a small value copied per test, so checking a
/// token allocates nothing and leaves the state unchanged.
/// </summary>
internal sealed class JsonConstraint
{
    /// <summary>Deepest nesting of objects and arrays.</summary>
    public const int MaxDepth = 32;

    /// <summary>Most spaces or tabs after a newline outside strings.</summary>
    public const int MaxIndent = 20;

    /// <summary>Longest number, in bytes.</summary>
    public const int MaxNumberLength = 40;

    private State _state;

    private enum Mode : byte
    {
        Start, Value, ObjectOpen, ObjectKey, Colon, ArrayOpen, AfterValue,
        String, Escape, Unicode, Utf8,
        Minus, Zero, Int, Dot, Frac, Exp, ExpSign, ExpDigits,
        Literal, Done,
    }

    [InlineArray(MaxDepth)]
    private struct Stack
    {
        private byte _element;
    }

    private struct State
    {
        public Mode Mode;
        public bool InKey;
        public byte Count;       // literal index, hex digits left, UTF-8 continuation bytes left, number length
        public byte Literal;     // 0 true, 1 false, 2 null
        public byte NextLo;      // allowed range of the next UTF-8 continuation byte
        public byte NextHi;
        public byte Whitespace;  // 0 none, 1 after a space, 2 + n after a newline and n spaces or tabs
        public byte Depth;
        public Stack Open;       // (byte)'{' or (byte)'['
    }

    private static readonly byte[][] Literals = ["true"u8.ToArray(), "false"u8.ToArray(), "null"u8.ToArray()];

    /// <summary>Whether the top-level object is closed (the generation should end).</summary>
    public bool IsComplete => _state.Mode == Mode.Done;

    /// <summary>Whether <paramref name="bytes"/> (a whole token) can come next; the state does not change.</summary>
    public bool CanAccept(ReadOnlySpan<byte> bytes)
    {
        var s = _state;
        return Feed(ref s, bytes);
    }

    /// <summary>Advances over <paramref name="bytes"/> when they can come next; false (and no change) otherwise.</summary>
    public bool Accept(ReadOnlySpan<byte> bytes)
    {
        var s = _state;
        if (!Feed(ref s, bytes)) return false;
        _state = s;
        return true;
    }

    private static bool Feed(ref State s, ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty) return false; // a token that adds nothing could repeat forever
        foreach (var b in bytes)
        {
            if (!Step(ref s, b)) return false;
        }
        return true;
    }

    private static bool IsWhitespace(byte b) => b is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r';

    private static bool Whitespace(ref State s, byte b)
    {
        if (s.Whitespace == 0 && b is (byte)' ' or (byte)'\n')
        {
            s.Whitespace = b == (byte)' ' ? (byte)1 : (byte)2;
            return true;
        }
        // Indentation after the newline; a second newline, a carriage return or a double space is refused.
        if (s.Whitespace >= 2 && s.Whitespace < 2 + MaxIndent && b is (byte)' ' or (byte)'\t')
        {
            s.Whitespace++;
            return true;
        }
        return false;
    }

    private static bool IsDigit(byte b) => b is >= (byte)'0' and <= (byte)'9';

    private static bool Step(ref State s, byte b)
    {
        switch (s.Mode)
        {
            case Mode.Value or Mode.ObjectOpen or Mode.ObjectKey or Mode.Colon or Mode.ArrayOpen or Mode.AfterValue or Mode.Done:
                if (IsWhitespace(b)) return Whitespace(ref s, b);
                s.Whitespace = 0;
                return Structural(ref s, b);
            case Mode.Start:
                return Structural(ref s, b);
            case Mode.String:
                if (b == (byte)'"')
                {
                    s.Mode = s.InKey ? Mode.Colon : Mode.AfterValue;
                    return true;
                }
                if (b == (byte)'\\')
                {
                    s.Mode = Mode.Escape;
                    return true;
                }
                if (b < 0x20) return false; // control characters must be escaped
                if (b < 0x80) return true;
                return Utf8Lead(ref s, b);
            case Mode.Utf8:
                if (b < s.NextLo || b > s.NextHi) return false;
                s.NextLo = 0x80;
                s.NextHi = 0xBF;
                if (--s.Count == 0) s.Mode = Mode.String;
                return true;
            case Mode.Escape:
                if (b == (byte)'u')
                {
                    s.Mode = Mode.Unicode;
                    s.Count = 4;
                    return true;
                }
                if (b is (byte)'"' or (byte)'\\' or (byte)'/' or (byte)'b' or (byte)'f' or (byte)'n' or (byte)'r' or (byte)'t')
                {
                    s.Mode = Mode.String;
                    return true;
                }
                return false;
            case Mode.Unicode:
                if (!char.IsAsciiHexDigit((char)b)) return false;
                if (--s.Count == 0) s.Mode = Mode.String;
                return true;
            case Mode.Literal:
                var literal = Literals[s.Literal];
                if (b != literal[s.Count]) return false;
                if (++s.Count == literal.Length) s.Mode = Mode.AfterValue;
                return true;
            default:
                return Number(ref s, b);
        }
    }

    // Outside strings, numbers and literals: what may come in this position.
    private static bool Structural(ref State s, byte b)
    {
        switch (s.Mode)
        {
            case Mode.Start:
                return b == (byte)'{' && Push(ref s, b);
            case Mode.Value:
                return StartValue(ref s, b);
            case Mode.ArrayOpen:
                return b == (byte)']' ? Pop(ref s) : StartValue(ref s, b);
            case Mode.ObjectOpen or Mode.ObjectKey:
                if (b == (byte)'"')
                {
                    s.Mode = Mode.String;
                    s.InKey = true;
                    return true;
                }
                return s.Mode == Mode.ObjectOpen && b == (byte)'}' && Pop(ref s);
            case Mode.Colon:
                if (b != (byte)':') return false;
                s.Mode = Mode.Value;
                return true;
            case Mode.AfterValue:
                var top = s.Open[s.Depth - 1];
                if (b == (byte)',')
                {
                    s.Mode = top == (byte)'{' ? Mode.ObjectKey : Mode.Value;
                    return true;
                }
                return ((b == (byte)'}' && top == (byte)'{') || (b == (byte)']' && top == (byte)'[')) && Pop(ref s);
            default: // Done: only trailing whitespace
                return false;
        }
    }

    private static bool StartValue(ref State s, byte b)
    {
        switch (b)
        {
            case (byte)'{':
                return Push(ref s, b);
            case (byte)'[':
                return Push(ref s, b);
            case (byte)'"':
                s.Mode = Mode.String;
                s.InKey = false;
                return true;
            case (byte)'t' or (byte)'f' or (byte)'n':
                s.Mode = Mode.Literal;
                s.Literal = b == (byte)'t' ? (byte)0 : b == (byte)'f' ? (byte)1 : (byte)2;
                s.Count = 1;
                return true;
            case (byte)'-':
                s.Mode = Mode.Minus;
                s.Count = 1;
                return true;
            case >= (byte)'0' and <= (byte)'9':
                s.Mode = b == (byte)'0' ? Mode.Zero : Mode.Int;
                s.Count = 1;
                return true;
            default:
                return false;
        }
    }

    private static bool Number(ref State s, byte b)
    {
        var next = (s.Mode, b) switch
        {
            (Mode.Minus, (byte)'0') => Mode.Zero,
            (Mode.Minus, _) when IsDigit(b) => Mode.Int,
            (Mode.Int, _) when IsDigit(b) => Mode.Int,
            (Mode.Zero or Mode.Int, (byte)'.') => Mode.Dot,
            (Mode.Dot or Mode.Frac, _) when IsDigit(b) => Mode.Frac,
            (Mode.Zero or Mode.Int or Mode.Frac, (byte)'e' or (byte)'E') => Mode.Exp,
            (Mode.Exp, (byte)'+' or (byte)'-') => Mode.ExpSign,
            (Mode.Exp or Mode.ExpSign or Mode.ExpDigits, _) when IsDigit(b) => Mode.ExpDigits,
            _ => Mode.Done, // not a continuation
        };
        if (next != Mode.Done)
        {
            s.Mode = next;
            return ++s.Count <= MaxNumberLength;
        }
        // The number ended if it was complete; the byte then belongs to what follows it.
        if (s.Mode is not (Mode.Zero or Mode.Int or Mode.Frac or Mode.ExpDigits)) return false;
        s.Mode = Mode.AfterValue;
        return Step(ref s, b);
    }

    private static bool Utf8Lead(ref State s, byte b)
    {
        // Well-formed UTF-8 (Unicode 15, table 3-7): no overlong forms, no surrogates, nothing above U+10FFFF.
        (s.Count, s.NextLo, s.NextHi) = b switch
        {
            >= 0xC2 and <= 0xDF => ((byte)1, (byte)0x80, (byte)0xBF),
            0xE0 => ((byte)2, (byte)0xA0, (byte)0xBF),
            (>= 0xE1 and <= 0xEC) or 0xEE or 0xEF => ((byte)2, (byte)0x80, (byte)0xBF),
            0xED => ((byte)2, (byte)0x80, (byte)0x9F),
            0xF0 => ((byte)3, (byte)0x90, (byte)0xBF),
            >= 0xF1 and <= 0xF3 => ((byte)3, (byte)0x80, (byte)0xBF),
            0xF4 => ((byte)3, (byte)0x80, (byte)0x8F),
            _ => ((byte)0, (byte)0, (byte)0),
        };
        if (s.Count == 0) return false;
        s.Mode = Mode.Utf8;
        return true;
    }

    private static bool Push(ref State s, byte open)
    {
        if (s.Depth == MaxDepth) return false;
        s.Open[s.Depth++] = open;
        s.Mode = open == (byte)'{' ? Mode.ObjectOpen : Mode.ArrayOpen;
        return true;
    }

    private static bool Pop(ref State s)
    {
        s.Depth--;
        s.Mode = s.Depth == 0 ? Mode.Done : Mode.AfterValue;
        return true;
    }
}
