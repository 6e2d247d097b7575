using System.Text;

namespace Hearth.Engine.Tokenization;

/// <summary>
/// llama.cpp's SentencePiece (BPE-by-score) encoder: start from single code points, repeatedly merge
/// the adjacent pair whose concatenation is the highest-scoring vocabulary token (ties: leftmost), and
/// spell any code point that never became a token as its UTF-8 byte tokens (<c>&lt;0xNN&gt;</c>).
/// O(n log n) in the input length: each merge pushes at most two new candidate pairs. Where the vocabulary allows
/// (<see cref="Vocabulary.SpmWordsIndependent"/>), the text is cut before each word's leading space run and every word
/// is merged on its own, through the vocabulary's <see cref="WordCache"/>: the same ids, with a small queue per word.
/// One instance per encode call (it reuses its buffers between words).
/// </summary>
internal sealed class SpmEncoder(Vocabulary vocabulary)
{
    private const char Space = '\u2581';

    private readonly List<Symbol> _symbols = [];
    private readonly PriorityQueue<Bigram, (float, int)> _queue = new(BigramOrder.Instance);

    private struct Symbol
    {
        public int Start;
        public int Length; // UTF-16 units; 0 once merged into its left neighbour
        public int Prev;
        public int Next;
    }

    private readonly record struct Bigram(int Left, int Right, int Size);

    private sealed class BigramOrder : IComparer<(float Score, int Left)>
    {
        public static readonly BigramOrder Instance = new();

        // Highest score first, then leftmost.
        public int Compare((float Score, int Left) x, (float Score, int Left) y)
        {
            var c = y.Score.CompareTo(x.Score);
            return c != 0 ? c : x.Left.CompareTo(y.Left);
        }
    }

    /// <summary>Encodes already whitespace-escaped text (spaces as U+2581), appending ids to <paramref name="output"/>.</summary>
    public void Encode(ReadOnlySpan<char> text, List<int> output)
    {
        if (text.Length == 0) return;
        if (!vocabulary.SpmWordsIndependent)
        {
            EncodeWord(text, output);
            return;
        }
        var start = 0;
        for (var i = 1; i < text.Length; i++)
        {
            if (text[i] != Space || text[i - 1] == Space) continue;
            EncodeCachedWord(text[start..i], output);
            start = i;
        }
        EncodeCachedWord(text[start..], output);
    }

    private void EncodeCachedWord(ReadOnlySpan<char> word, List<int> output)
    {
        var cache = vocabulary.Words;
        if (cache.TryAppend(word, output)) return;
        var before = output.Count;
        EncodeWord(word, output);
        cache.Add(word, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(output)[before..]);
    }

    private void EncodeWord(ReadOnlySpan<char> text, List<int> output)
    {
        _symbols.Clear();
        for (var i = 0; i < text.Length; i++)
        {
            var len = char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]) ? 2 : 1;
            _symbols.Add(new Symbol { Start = i, Length = len, Prev = _symbols.Count - 1, Next = i + len == text.Length ? -1 : _symbols.Count + 1 });
            i += len - 1;
        }
        var span = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_symbols);

        _queue.Clear();
        for (var i = 1; i < span.Length; i++) TryAdd(text, span, i - 1, i);

        while (_queue.TryDequeue(out var bigram, out _))
        {
            ref var left = ref span[bigram.Left];
            ref var right = ref span[bigram.Right];
            // Stale: one side was merged away or grew since this pair was queued.
            if (left.Length == 0 || right.Length == 0 || left.Length + right.Length != bigram.Size) continue;

            left.Length += right.Length;
            right.Length = 0;
            left.Next = right.Next;
            if (right.Next >= 0) span[right.Next].Prev = bigram.Left;

            TryAdd(text, span, left.Prev, bigram.Left);
            TryAdd(text, span, bigram.Left, left.Next);
        }

        Span<byte> utf8 = stackalloc byte[8];
        for (var i = 0; i != -1; i = span[i].Next)
        {
            var piece = text.Slice(span[i].Start, span[i].Length);
            if (vocabulary.TryGetId(piece, out var id))
            {
                output.Add(id);
                continue;
            }
            // Byte fallback: a single code point that is not in the vocabulary.
            var n = Encoding.UTF8.GetBytes(piece, utf8);
            for (var b = 0; b < n; b++)
            {
                var byteToken = vocabulary.ByteTokens[utf8[b]];
                if (byteToken < 0)
                    throw new InvalidOperationException($"The vocabulary has no byte token for 0x{utf8[b]:X2} (needed for byte fallback).");
                output.Add(byteToken);
            }
        }
    }

    private void TryAdd(ReadOnlySpan<char> text, Span<Symbol> symbols, int left, int right)
    {
        if (left == -1 || right == -1) return;
        var size = symbols[left].Length + symbols[right].Length;
        if (!vocabulary.TryGetId(text.Slice(symbols[left].Start, size), out var id)) return;
        _queue.Enqueue(new Bigram(left, right, size), (vocabulary.Scores[id], left));
    }
}
