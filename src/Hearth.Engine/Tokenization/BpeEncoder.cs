using System.Runtime.InteropServices;
using System.Text;

namespace Hearth.Engine.Tokenization;

/// <summary>
/// llama.cpp's byte-level BPE encoder. Each pre-token is turned into GPT-2 byte-level characters, then
/// the adjacent pair with the lowest merge rank (ties: leftmost) is merged until no ranked pair is
/// left. Pre-tokens are short, so the per-word priority queue stays small; total work is
/// O(n log w) for n input bytes and words of length w. Words go through the vocabulary's <see cref="WordCache"/>.
/// </summary>
internal sealed class BpeEncoder
{
    private readonly Vocabulary _vocabulary;
    private readonly BpeMerges _merges;
    private readonly List<(int Start, int Length)> _words = [];
    private readonly List<Symbol> _symbols = [];
    private readonly PriorityQueue<Bigram, (int Rank, int Left)> _queue = new();
    private char[] _chars = new char[256];
    private byte[] _bytes = new byte[256];

    private struct Symbol
    {
        public int Start;
        public int Length;
        public int Id;
        public int Prev;
        public int Next;
    }

    private readonly record struct Bigram(int Left, int Right, int LeftId, int RightId, int Result);

    public BpeEncoder(Vocabulary vocabulary)
    {
        _vocabulary = vocabulary;
        _merges = vocabulary.Merges!;
    }

    /// <summary>Encodes <paramref name="text"/>[start..+length], appending ids to <paramref name="output"/>.</summary>
    public void Encode(string text, int start, int length, List<int> output)
    {
        _words.Clear();
        _vocabulary.Pre!.Split(text, start, length, _words);
        var cache = _vocabulary.Words;
        foreach (var (wStart, wLength) in _words)
        {
            var word = text.AsSpan(wStart, wLength);
            if (cache.TryAppend(word, output)) continue;
            var before = output.Count;
            EncodeWord(word, output);
            cache.Add(word, CollectionsMarshal.AsSpan(output)[before..]);
        }
    }

    private void EncodeWord(ReadOnlySpan<char> word, List<int> output)
    {
        var byteCount = Encoding.UTF8.GetByteCount(word);
        if (_bytes.Length < byteCount) _bytes = new byte[byteCount * 2];
        if (_chars.Length < byteCount) _chars = new char[byteCount * 2];
        Encoding.UTF8.GetBytes(word, _bytes);
        var chars = _chars.AsSpan(0, byteCount);
        ByteLevel.Encode(_bytes.AsSpan(0, byteCount), chars);

        if (_vocabulary.IgnoreMerges && _vocabulary.TryGetId(chars, out var whole))
        {
            output.Add(whole);
            return;
        }

        _symbols.Clear();
        for (var i = 0; i < byteCount; i++)
        {
            _symbols.Add(new Symbol { Start = i, Length = 1, Id = _merges.ByteSymbols[_bytes[i]], Prev = i - 1, Next = i + 1 == byteCount ? -1 : i + 1 });
        }
        var symbols = CollectionsMarshal.AsSpan(_symbols);

        _queue.Clear();
        for (var i = 1; i < symbols.Length; i++) TryAdd(symbols, i - 1, i);

        while (_queue.TryDequeue(out var bigram, out _))
        {
            ref var left = ref symbols[bigram.Left];
            ref var right = ref symbols[bigram.Right];
            if (left.Length == 0 || right.Length == 0 || left.Id != bigram.LeftId || right.Id != bigram.RightId || left.Next != bigram.Right)
                continue;

            left.Length += right.Length;
            left.Id = bigram.Result;
            right.Length = 0;
            left.Next = right.Next;
            if (right.Next >= 0) symbols[right.Next].Prev = bigram.Left;

            TryAdd(symbols, left.Prev, bigram.Left);
            TryAdd(symbols, bigram.Left, left.Next);
        }

        for (var i = 0; i != -1; i = symbols[i].Next)
        {
            ref var s = ref symbols[i];
            if (s.Id >= 0 && s.Id < _vocabulary.Count)
            {
                output.Add(s.Id);
                continue;
            }
            // Not a token: llama.cpp looks each byte of the byte-level text up on its own; only ASCII can hit.
            foreach (var c in chars.Slice(s.Start, s.Length))
            {
                if (c < 0x80 && _vocabulary.TryGetId([c], out var id)) output.Add(id);
            }
        }
    }

    private void TryAdd(Span<Symbol> symbols, int left, int right)
    {
        if (left == -1 || right == -1) return;
        if (!_merges.TryGet(symbols[left].Id, symbols[right].Id, out var rank, out var result)) return;
        _queue.Enqueue(new Bigram(left, right, symbols[left].Id, symbols[right].Id, result), (rank, left));
    }
}
