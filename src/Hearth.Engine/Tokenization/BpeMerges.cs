using Hearth.Gguf;

namespace Hearth.Engine.Tokenization;

/// <summary>
/// BPE merge ranks (<c>tokenizer.ggml.merges</c>, rank = position in the list) over interned symbol ids:
/// vocabulary strings keep their token id, merge parts that are not tokens get ids above the vocabulary,
/// so the merge loop compares integers instead of building strings.
/// </summary>
internal sealed class BpeMerges
{
    private readonly Dictionary<long, (int Rank, int Result)> _pairs;
    private readonly Dictionary<string, int> _extra = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _extraLookup;
    private readonly Vocabulary _vocabulary;

    public BpeMerges(GgufMetadata metadata, Vocabulary vocabulary)
    {
        _vocabulary = vocabulary;
        _extraLookup = _extra.GetAlternateLookup<ReadOnlySpan<char>>();
        var merges = metadata.GetArray("tokenizer.ggml.merges")
            ?? throw new InvalidDataException("GGUF metadata has no 'tokenizer.ggml.merges', which a gpt2 (BPE) tokenizer needs.");
        if (merges.ElementType != GgufValueType.String)
            throw new InvalidDataException($"'tokenizer.ggml.merges' must be an array of strings, not {merges.ElementType}.");

        _pairs = new Dictionary<long, (int, int)>(merges.Count, PairKeyComparer.Instance);
        for (var rank = 0; rank < merges.Count; rank++)
        {
            var line = merges.GetString(rank);
            var space = line.Length > 1 ? line.IndexOf(' ', 1) : -1;
            var left = space < 0 ? "" : line[..space];
            var right = space < 0 ? "" : line[(space + 1)..];
            var key = Key(Intern(left), Intern(right));
            _pairs.TryAdd(key, (rank, Intern(left + right)));
        }
        ByteSymbols = new int[256];
        for (var b = 0; b < 256; b++) ByteSymbols[b] = Find([ByteLevel.ByteToChar((byte)b)]);
    }

    /// <summary>The symbol id of each byte's byte-level character (<see cref="Find"/> of it, looked up once).</summary>
    public int[] ByteSymbols { get; }

    /// <summary>Id of a symbol text: its token id, an id above the vocabulary for a merge-only string, or -1.</summary>
    public int Find(ReadOnlySpan<char> text)
    {
        if (_vocabulary.TryGetId(text, out var id)) return id;
        return _extraLookup.TryGetValue(text, out id) ? id : -1;
    }

    /// <summary>The rank and merged symbol id for a pair, or false when the pair never merges.</summary>
    public bool TryGet(int left, int right, out int rank, out int result)
    {
        if (left >= 0 && right >= 0 && _pairs.TryGetValue(Key(left, right), out var v))
        {
            rank = v.Rank;
            result = v.Result;
            return true;
        }
        rank = result = -1;
        return false;
    }

    private static long Key(int left, int right) => ((long)left << 32) | (uint)right;

    /// <summary>
    /// long's own hash XORs the halves, so every pair with the same left ^ right (and both orders of a pair) share a
    /// bucket; merge ids are small and cluster, which made lookups walk long chains. Fibonacci hashing spreads them.
    /// </summary>
    private sealed class PairKeyComparer : IEqualityComparer<long>
    {
        public static readonly PairKeyComparer Instance = new();

        public bool Equals(long x, long y) => x == y;

        public int GetHashCode(long key) => (int)(((ulong)key * 0x9E3779B97F4A7C15UL) >> 32);
    }

    private int Intern(string text)
    {
        if (_vocabulary.TryGetId(text, out var id)) return id;
        if (_extra.TryGetValue(text, out id)) return id;
        id = _vocabulary.Count + _extra.Count;
        _extra.Add(text, id);
        return id;
    }
}
