using System.Text;

namespace Hearth.Engine.Tokenization;

/// <summary>
/// llama.cpp's SentencePiece (BPE-by-score) encoder: start from single code points, repeatedly merge
/// the adjacent pair whose concatenation is the highest-scoring vocabulary token (ties: leftmost), and
/// spell any code point that never became a token as its UTF-8 byte tokens (<c>&lt;0xNN&gt;</c>).
/// O(n log n) in the input length: each merge pushes at most two new candidate pairs.
/// </summary>
internal static class SpmEncoder
{
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
    public static void Encode(Vocabulary vocabulary, string text, List<int> output)
    {
        if (text.Length == 0) return;
        var symbols = new List<Symbol>(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            var len = char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]) ? 2 : 1;
            symbols.Add(new Symbol { Start = i, Length = len, Prev = symbols.Count - 1, Next = i + len == text.Length ? -1 : symbols.Count + 1 });
            i += len - 1;
        }
        var span = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(symbols);

        var queue = new PriorityQueue<Bigram, (float, int)>(span.Length, BigramOrder.Instance);
        for (var i = 1; i < span.Length; i++) TryAdd(vocabulary, text, span, queue, i - 1, i);

        while (queue.TryDequeue(out var bigram, out _))
        {
            ref var left = ref span[bigram.Left];
            ref var right = ref span[bigram.Right];
            // Stale: one side was merged away or grew since this pair was queued.
            if (left.Length == 0 || right.Length == 0 || left.Length + right.Length != bigram.Size) continue;

            left.Length += right.Length;
            right.Length = 0;
            left.Next = right.Next;
            if (right.Next >= 0) span[right.Next].Prev = bigram.Left;

            TryAdd(vocabulary, text, span, queue, left.Prev, bigram.Left);
            TryAdd(vocabulary, text, span, queue, bigram.Left, left.Next);
        }

        Span<byte> utf8 = stackalloc byte[8];
        for (var i = 0; i != -1; i = span[i].Next)
        {
            var piece = text.AsSpan(span[i].Start, span[i].Length);
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

    private static void TryAdd(Vocabulary vocabulary, string text, Span<Symbol> symbols, PriorityQueue<Bigram, (float, int)> queue, int left, int right)
    {
        if (left == -1 || right == -1) return;
        var size = symbols[left].Length + symbols[right].Length;
        if (!vocabulary.TryGetId(text.AsSpan(symbols[left].Start, size), out var id)) return;
        queue.Enqueue(new Bigram(left, right, size), (vocabulary.Scores[id], left));
    }
}
