namespace Hearth.Engine.Sampling;

/// <summary>
/// JSON mode: an incremental recognizer of one JSON object, fed the UTF-8 bytes of each generated token. A token is
/// allowed when its bytes keep the output a prefix of valid JSON (RFC 8259: strings with escapes and well-formed UTF-8,
/// numbers, literals, nesting); the output starts with <c>{</c> and the generation ends once that object is closed.
/// Whitespace between tokens is one space, or one newline followed by up to <see cref="MaxIndent"/> spaces or tabs (the
/// rule llama.cpp's JSON grammar uses), and nesting is bounded by <see cref="MaxDepth"/>, so a model cannot stall in
/// blank lines or endless brackets. With a <see cref="JsonSchemaPlan"/>, values must also match the schema: property
/// names are spelled from the declared ones (each once), the required ones come before the object closes, and types,
/// enums, items and item counts hold; a key, item or bracket is allowed only where the nesting its value needs still
/// fits under <see cref="MaxDepth"/>, so no reachable state is a dead end. The state is a small value copied per test (with the open levels of the stack), so checking a token allocates
/// nothing and leaves the state unchanged.
/// </summary>
internal sealed class JsonConstraint(JsonSchemaPlan? schema = null)
{
    /// <summary>Deepest nesting of objects and arrays.</summary>
    public const int MaxDepth = 32;

    /// <summary>Most spaces or tabs after a newline outside strings.</summary>
    public const int MaxIndent = 20;

    /// <summary>Longest number, in bytes.</summary>
    public const int MaxNumberLength = 40;

    private const int AnyNode = -1;

    private readonly IReadOnlyList<JsonSchemaPlan.Node> _nodes = schema?.Nodes ?? [];
    private State _state = new() { ValueNode = schema?.Root ?? AnyNode };

    // The open objects and arrays, outside the state so a test copies only the levels in use into the scratch stack.
    private readonly Frame[] _frames = new Frame[MaxDepth];
    private readonly Frame[] _scratch = new Frame[MaxDepth];

    private enum Mode : byte
    {
        Start, Value, ObjectOpen, ObjectKey, Colon, ArrayOpen, AfterValue,
        String, Escape, Unicode, Utf8, Key, Enum,
        Minus, Zero, Int, Dot, Frac, Exp, ExpSign, ExpDigits,
        Literal, Done,
    }

    private struct Frame
    {
        public byte Open;   // (byte)'{' or (byte)'['
        public int Node;    // schema node of this object or array
        public ulong Seen;  // object: declared properties written so far
        public int Count;   // array: items started so far
    }

    private struct State
    {
        public Mode Mode;
        public bool InKey;
        public bool IntegerOnly;
        public byte Count;       // literal index, hex digits left, UTF-8 continuation bytes left, number length
        public byte Literal;     // 0 true, 1 false, 2 null
        public byte NextLo;      // allowed range of the next UTF-8 continuation byte
        public byte NextHi;
        public byte Whitespace;  // 0 none, 1 after a space, 2 + n after a newline and n spaces or tabs
        public byte Depth;
        public int ValueNode;    // schema node of the value that comes next (object member or the root)
        public int MatchNode;    // Key: the object's node; Enum: the value's node
        public int MatchIndex;   // bytes of the key or enum value matched so far
        public ulong Candidates; // declared names or enum values still matching
    }

    private static readonly byte[][] Literals = ["true"u8.ToArray(), "false"u8.ToArray(), "null"u8.ToArray()];

    /// <summary>Whether the top-level object is closed (the generation should end).</summary>
    public bool IsComplete => _state.Mode == Mode.Done;

    /// <summary>Whether <paramref name="bytes"/> (a whole token) can come next; the state does not change.</summary>
    public bool CanAccept(ReadOnlySpan<byte> bytes)
    {
        var s = _state;
        _frames.AsSpan(0, s.Depth).CopyTo(_scratch);
        return Feed(ref s, _scratch, bytes);
    }

    /// <summary>Advances over <paramref name="bytes"/> when they can come next; false (and no change) otherwise.</summary>
    public bool Accept(ReadOnlySpan<byte> bytes)
    {
        var s = _state;
        _frames.AsSpan(0, s.Depth).CopyTo(_scratch);
        if (!Feed(ref s, _scratch, bytes)) return false;
        _scratch.AsSpan(0, s.Depth).CopyTo(_frames);
        _state = s;
        return true;
    }

    private bool Feed(ref State s, Frame[] f, ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty) return false; // a token that adds nothing could repeat forever
        foreach (var b in bytes)
        {
            if (!Step(ref s, f, b)) return false;
        }
        return true;
    }

    private static bool IsWhitespace(byte b) => b is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r';

    private static bool IsDigit(byte b) => b is >= (byte)'0' and <= (byte)'9';

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

    private bool Step(ref State s, Frame[] f, byte b)
    {
        switch (s.Mode)
        {
            case Mode.Value or Mode.ObjectOpen or Mode.ObjectKey or Mode.Colon or Mode.ArrayOpen or Mode.AfterValue or Mode.Done:
                if (IsWhitespace(b)) return Whitespace(ref s, b);
                s.Whitespace = 0;
                return Structural(ref s, f, b);
            case Mode.Start:
                return StartValue(ref s, f, b, s.ValueNode);
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
            case Mode.Key:
                return KeyByte(ref s, f, b);
            case Mode.Enum:
                return EnumByte(ref s, f, b);
            default:
                return Number(ref s, f, b);
        }
    }

    // Outside strings, numbers and literals: what may come in this position.
    private bool Structural(ref State s, Frame[] f, byte b)
    {
        switch (s.Mode)
        {
            case Mode.Value:
                return StartValue(ref s, f, b, s.ValueNode);
            case Mode.ArrayOpen:
                return b == (byte)']' ? CloseArray(ref s, f) : StartItem(ref s, f, b);
            case Mode.ObjectOpen or Mode.ObjectKey:
                if (b == (byte)'"') return StartKey(ref s, f);
                return s.Mode == Mode.ObjectOpen && b == (byte)'}' && CloseObject(ref s, f);
            case Mode.Colon:
                if (b != (byte)':') return false;
                s.Mode = Mode.Value;
                return true;
            case Mode.AfterValue:
                ref var top = ref f[s.Depth - 1];
                if (top.Open == (byte)'{')
                {
                    if (b == (byte)',')
                    {
                        s.Mode = Mode.ObjectKey;
                        return top.Node < 0 || !_nodes[top.Node].Closed || Writable(top, s.Depth) != 0; // a property must be left to write
                    }
                    return b == (byte)'}' && CloseObject(ref s, f);
                }
                if (b == (byte)',')
                {
                    s.Mode = Mode.Value;
                    // Room for one more item, and for the nesting it needs.
                    return top.Node < 0 || (top.Count < _nodes[top.Node].MaxItems && s.Depth + Need(_nodes[top.Node].Items) <= MaxDepth);
                }
                return b == (byte)']' && CloseArray(ref s, f);
            default: // Done: only trailing whitespace
                return false;
        }
    }

    private ulong Unseen(in Frame frame)
    {
        var count = _nodes[frame.Node].Names.Length;
        var all = count == 64 ? ulong.MaxValue : (1UL << count) - 1;
        return all & ~frame.Seen;
    }

    // The least nesting a value of the node needs (0: a scalar will do).
    private int Need(int node) => node < 0 ? 0 : _nodes[node].MinDepth;

    // Declared properties not yet written whose value still fits under MaxDepth at this depth: a key is offered only
    // when some value can follow it (a required one always can: its object was opened only with room for it).
    private ulong Writable(in Frame frame, int depth)
    {
        var n = _nodes[frame.Node];
        var writable = Unseen(frame);
        if (depth + n.ChildDepth <= MaxDepth) return writable;
        for (var i = 0; i < n.Children.Length; i++)
        {
            if (depth + Need(n.Children[i]) > MaxDepth)
                writable &= ~(1UL << i);
        }
        return writable;
    }

    // An array item starts: the array's item schema applies, and it must not be one too many.
    private bool StartItem(ref State s, Frame[] f, byte b)
    {
        ref var top = ref f[s.Depth - 1];
        var node = top.Node < 0 ? AnyNode : _nodes[top.Node].Items;
        if (top.Node >= 0 && top.Count >= _nodes[top.Node].MaxItems) return false;
        top.Count++;
        return StartValue(ref s, f, b, node);
    }

    private bool StartValue(ref State s, Frame[] f, byte b, int node)
    {
        if (s.Mode == Mode.Value && s.Depth > 0 && f[s.Depth - 1].Open == (byte)'[')
        {
            // After a comma in an array: an item (counted, with the item schema).
            s.Mode = Mode.AfterValue; // placeholder so StartItem does not loop back here
            return StartItem(ref s, f, b);
        }
        if (node >= 0)
        {
            var n = _nodes[node];
            if (n.ByKind is { } alternatives)
            {
                var slot = JsonSchemaPlan.KindSlot(b);
                if (slot < 0 || alternatives[slot] == -2) return false;
                node = alternatives[slot];
                if (node >= 0) n = _nodes[node];
                else return StartValue(ref s, f, b, AnyNode);
            }
            if (n.Enum is { } values)
            {
                ulong candidates = 0;
                for (var i = 0; i < values.Length; i++)
                    if (values[i][0] == b) candidates |= 1UL << i;
                if (candidates == 0) return false;
                s.Mode = Mode.Enum;
                s.MatchNode = node;
                s.MatchIndex = 1;
                s.Candidates = candidates;
                return true;
            }
            if (!JsonSchemaPlan.Admits(n.Kinds, b)) return false;
            s.IntegerOnly = (n.Kinds & JsonSchemaPlan.Kinds.Number) == 0;
        }
        else
        {
            s.IntegerOnly = false;
        }
        if (s.Mode == Mode.Start && b != (byte)'{') return false; // the answer is one object
        switch (b)
        {
            case (byte)'{' or (byte)'[':
                return Push(ref s, f, b, node);
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

    // A key opens: free text in an open object, one of the declared names not yet written in a closed one.
    private bool StartKey(ref State s, Frame[] f)
    {
        var top = f[s.Depth - 1];
        s.InKey = true;
        if (top.Node < 0 || !_nodes[top.Node].Closed)
        {
            s.Mode = Mode.String;
            s.ValueNode = AnyNode;
            return true;
        }
        s.Candidates = Writable(top, s.Depth);
        if (s.Candidates == 0) return false;
        s.Mode = Mode.Key;
        s.MatchNode = top.Node;
        s.MatchIndex = 0;
        return true;
    }

    private bool KeyByte(ref State s, Frame[] f, byte b)
    {
        var names = _nodes[s.MatchNode].Names;
        if (b == (byte)'"')
        {
            for (var i = 0; i < names.Length; i++)
            {
                if ((s.Candidates & (1UL << i)) == 0 || names[i].Length != s.MatchIndex) continue;
                ref var top = ref f[s.Depth - 1];
                top.Seen |= 1UL << i;
                s.ValueNode = _nodes[s.MatchNode].Children[i];
                s.Mode = Mode.Colon;
                return true;
            }
            return false;
        }
        s.Candidates = Narrow(names, s.Candidates, s.MatchIndex, b);
        s.MatchIndex++;
        return s.Candidates != 0;
    }

    private bool EnumByte(ref State s, Frame[] f, byte b)
    {
        var values = _nodes[s.MatchNode].Enum!;
        var next = Narrow(values, s.Candidates, s.MatchIndex, b);
        if (next != 0)
        {
            s.Candidates = next;
            s.MatchIndex++;
            return true;
        }
        // No value continues with b: the value ended if one of them is complete (b then belongs to what follows).
        for (var i = 0; i < values.Length; i++)
        {
            if ((s.Candidates & (1UL << i)) != 0 && values[i].Length == s.MatchIndex)
            {
                s.Mode = Mode.AfterValue;
                return Step(ref s, f, b);
            }
        }
        return false;
    }

    private static ulong Narrow(byte[][] texts, ulong candidates, int index, byte b)
    {
        ulong next = 0;
        for (var i = 0; i < texts.Length; i++)
        {
            if ((candidates & (1UL << i)) != 0 && texts[i].Length > index && texts[i][index] == b)
                next |= 1UL << i;
        }
        return next;
    }

    private bool Number(ref State s, Frame[] f, byte b)
    {
        var next = (s.Mode, b) switch
        {
            (Mode.Minus, (byte)'0') => Mode.Zero,
            (Mode.Minus, _) when IsDigit(b) => Mode.Int,
            (Mode.Int, _) when IsDigit(b) => Mode.Int,
            (Mode.Zero or Mode.Int, (byte)'.') when !s.IntegerOnly => Mode.Dot,
            (Mode.Dot or Mode.Frac, _) when IsDigit(b) => Mode.Frac,
            (Mode.Zero or Mode.Int or Mode.Frac, (byte)'e' or (byte)'E') when !s.IntegerOnly => Mode.Exp,
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
        return Step(ref s, f, b);
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

    private bool Push(ref State s, Frame[] f, byte open, int node)
    {
        // The bracket, and the nesting its required members or minimum items need, must fit under MaxDepth.
        var need = node < 0 ? 1 : open == (byte)'{' ? _nodes[node].ObjectDepth : _nodes[node].ArrayDepth;
        if (s.Depth + need > MaxDepth) return false;
        f[s.Depth++] = new Frame { Open = open, Node = node };
        s.Mode = open == (byte)'{' ? Mode.ObjectOpen : Mode.ArrayOpen;
        return true;
    }

    private bool CloseObject(ref State s, Frame[] f)
    {
        var top = f[s.Depth - 1];
        if (top.Node >= 0 && (_nodes[top.Node].Required & ~top.Seen) != 0) return false; // a required property is missing
        return Pop(ref s);
    }

    private bool CloseArray(ref State s, Frame[] f)
    {
        var top = f[s.Depth - 1];
        if (top.Node >= 0 && top.Count < _nodes[top.Node].MinItems) return false;
        return Pop(ref s);
    }

    private static bool Pop(ref State s)
    {
        s.Depth--;
        s.Mode = s.Depth == 0 ? Mode.Done : Mode.AfterValue;
        return true;
    }
}
