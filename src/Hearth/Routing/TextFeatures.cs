using System.Buffers;
using System.Collections.Frozen;

namespace Hearth.Routing;

/// <summary>
/// Turns text into hashed lexical features for the content model: word unigrams and bigrams (lower-cased, stop words
/// removed, a light suffix stemmer so "worries"/"worried"/"worry" meet) and character 3- and 4-grams of each word with
/// boundary marks (so "diabetes"/"diabetic" and small typos still share most features). Features are 64-bit FNV-1a
/// hashes seeded by kind, so extraction allocates nothing beyond the caller's buffers.
/// </summary>
internal static class TextFeatures
{
    public const int KindUnigram = 0;
    public const int KindBigram = 1;
    public const int KindChar = 2;

    private const ulong FnvOffset = 14695981039346656037UL;
    private const ulong FnvPrime = 1099511628211UL;
    private const int MaxWord = 32;

    private static readonly FrozenSet<string> StopWords = FrozenSet.ToFrozenSet(
    [
        "a", "an", "the", "and", "or", "but", "if", "of", "to", "in", "on", "at", "by", "for", "with", "about", "from",
        "into", "as", "is", "am", "are", "was", "were", "be", "been", "being", "do", "does", "did", "have", "has", "had",
        "i", "me", "my", "mine", "we", "our", "us", "you", "your", "he", "him", "his", "she", "her", "it", "its", "they",
        "them", "their", "this", "that", "these", "those", "there", "here", "what", "which", "who", "whom", "whose",
        "how", "when", "where", "why", "can", "could", "should", "would", "will", "shall", "may", "might", "must", "so",
        "than", "then", "too", "very", "just", "also", "some", "any", "all", "each", "more", "most", "such", "only",
        "own", "same", "up", "out", "over", "again", "get", "got", "im", "ive", "id", "dont", "doesnt", "cant", "please",
        "thanks", "thank", "hi", "hello", "hey", "want", "need", "know", "like", "way", "one", "something", "anything",
        "tell", "give", "make", "help", "good", "best", "better", "lot", "really", "s", "t", "explain", "difference",
        "between", "example", "examples", "simple", "ways", "tips", "use", "using", "new", "first", "someone", "thing", "things",
        "whats", "hows", "step", "steps", "term", "terms", "understand", "while", "after", "before", "without", "not", "no",
        "now", "every", "other", "many", "much", "well", "still", "even", "going", "let", "lets", "say", "see", "around",
    ], StringComparer.Ordinal);

    private static readonly FrozenSet<string>.AlternateLookup<ReadOnlySpan<char>> StopLookup = StopWords.GetAlternateLookup<ReadOnlySpan<char>>();

    /// <summary>A reusable, pooled list of feature hashes with their kinds.</summary>
    internal struct Buffer : IDisposable
    {
        private ulong[] _hashes;
        private byte[] _kinds;

        public static Buffer Rent(int textLength)
        {
            // Each character yields at most: one unigram, one bigram, two character n-grams (+ boundary slack).
            var capacity = Math.Max(64, (textLength * 4) + 16);
            return new Buffer { _hashes = ArrayPool<ulong>.Shared.Rent(capacity), _kinds = ArrayPool<byte>.Shared.Rent(capacity) };
        }

        public int Count { get; private set; }

        public readonly Span<ulong> Hashes => _hashes.AsSpan(0, Count);

        public readonly Span<byte> Kinds => _kinds.AsSpan(0, Count);

        public void Add(ulong hash, int kind)
        {
            if (Count == _hashes.Length)
                return; // cannot happen with the capacity above; dropping is safer than throwing on a hot path
            _hashes[Count] = hash;
            _kinds[Count] = (byte)kind;
            Count++;
        }

        public void Dispose()
        {
            if (_hashes is not null)
                ArrayPool<ulong>.Shared.Return(_hashes);
            if (_kinds is not null)
                ArrayPool<byte>.Shared.Return(_kinds);
            _hashes = null!;
            _kinds = null!;
        }
    }

    /// <summary>Appends the features of <paramref name="text"/> to <paramref name="output"/>.</summary>
    public static void Extract(ReadOnlySpan<char> text, ref Buffer output)
    {
        Span<char> word = stackalloc char[MaxWord];
        Span<char> previous = stackalloc char[MaxWord];
        var previousLength = 0;
        var i = 0;
        while (i < text.Length)
        {
            // Skip to the next letter or digit.
            while (i < text.Length && !char.IsLetterOrDigit(text[i]))
                i++;
            var length = 0;
            while (i < text.Length && (char.IsLetterOrDigit(text[i]) || IsInnerApostrophe(text, i)))
            {
                var c = text[i++];
                if (c is '\'' or '\u2019')
                    continue; // "don't" -> "dont"
                if (length < MaxWord)
                    word[length++] = char.ToLowerInvariant(c);
            }

            if (length == 0)
                continue;
            var w = word[..length];
            if (StopLookup.Contains(w))
                continue;
            length = Stem(w);
            w = word[..length];
            output.Add(Hash(KindUnigram, w), KindUnigram);
            if (previousLength > 0)
                output.Add(Hash(Hash(KindBigram, previous[..previousLength]), '\u0001', w), KindBigram);
            AddCharGrams(w, ref output);
            w.CopyTo(previous);
            previousLength = length;
        }
    }

    private static bool IsInnerApostrophe(ReadOnlySpan<char> text, int i)
        => text[i] is '\'' or '\u2019' && i > 0 && i + 1 < text.Length && char.IsLetter(text[i - 1]) && char.IsLetter(text[i + 1]);

    private static void AddCharGrams(ReadOnlySpan<char> w, ref Buffer output)
    {
        // Boundary-marked word: "<word>".
        Span<char> marked = stackalloc char[MaxWord + 2];
        marked[0] = '<';
        w.CopyTo(marked[1..]);
        marked[w.Length + 1] = '>';
        var m = marked[..(w.Length + 2)];
        for (var n = 3; n <= 4; n++)
        {
            if (m.Length < n)
            {
                if (n == 3)
                    output.Add(Hash(KindChar, m), KindChar);
                break;
            }

            for (var s = 0; s + n <= m.Length; s++)
                output.Add(Hash(KindChar, m.Slice(s, n)), KindChar);
        }
    }

    /// <summary>A light, conservative English suffix stripper; returns the new length (the span is edited in place).</summary>
    internal static int Stem(Span<char> w)
    {
        var n = w.Length;
        if (n > 4 && w.EndsWith("ies"))
        {
            w[n - 3] = 'y';
            return n - 2;
        }

        if (n > 5 && w.EndsWith("sses"))
            return n - 2;
        if (n > 5 && w.EndsWith("ing"))
            return n - 3;
        if (n > 4 && w.EndsWith("ied"))
        {
            w[n - 3] = 'y';
            return n - 2;
        }

        if (n > 4 && w.EndsWith("ed") && !w.EndsWith("eed"))
            return n - 2;
        if (n > 5 && w.EndsWith("ly"))
            return n - 2;
        if (n > 3 && w[n - 1] == 's' && w[n - 2] is not ('s' or 'u' or 'i'))
            return n - 1;
        return n;
    }

    private static ulong Hash(int kind, ReadOnlySpan<char> s) => Hash(FnvOffset ^ (ulong)(kind + 1) * 0x9E3779B97F4A7C15UL, s);

    private static ulong Hash(ulong seed, ReadOnlySpan<char> s)
    {
        var h = seed;
        foreach (var c in s)
        {
            h ^= c;
            h *= FnvPrime;
        }

        return h;
    }

    private static ulong Hash(ulong seed, char separator, ReadOnlySpan<char> s)
    {
        var h = (seed ^ separator) * FnvPrime;
        return Hash(h, s);
    }
}
