using System.Collections.Concurrent;

namespace Hearth.Engine.Tokenization;

/// <summary>
/// The token ids of recently encoded words, shared by every encode call on one vocabulary. A word's ids depend only
/// on its text (a BPE pre-token, or an SPM word the vocabulary cannot merge across), and running text repeats a few
/// thousand words most of the time, so most words skip the merge loop. Bounded: words longer than
/// <see cref="MaxWordLength"/> are not kept, and the cache starts over when it holds <see cref="Capacity"/> words.
/// Thread-safe; a hit allocates nothing.
/// </summary>
internal sealed class WordCache
{
    /// <summary>Longest word (UTF-16 units) the cache keeps; longer ones are rare and would crowd it.</summary>
    public const int MaxWordLength = 64;

    /// <summary>Words kept before the cache starts over (a few MiB at most).</summary>
    public const int Capacity = 1 << 15;

    private readonly ConcurrentDictionary<string, int[]> _words = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private int _count;

    public WordCache() => _lookup = _words.GetAlternateLookup<ReadOnlySpan<char>>();

    /// <summary>Off: every word goes through the merge loop (tests compare both ways).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Appends the cached ids of <paramref name="word"/> to <paramref name="output"/>; false when it is not cached.</summary>
    public bool TryAppend(ReadOnlySpan<char> word, List<int> output)
    {
        if (!Enabled || word.Length > MaxWordLength || !_lookup.TryGetValue(word, out var ids)) return false;
        output.AddRange(ids);
        return true;
    }

    /// <summary>Remembers the ids <paramref name="word"/> encoded to.</summary>
    public void Add(ReadOnlySpan<char> word, ReadOnlySpan<int> ids)
    {
        if (!Enabled || word.Length > MaxWordLength) return;
        if (Volatile.Read(ref _count) >= Capacity)
        {
            _words.Clear();
            Volatile.Write(ref _count, 0);
        }
        if (_lookup.TryAdd(word, ids.ToArray())) Interlocked.Increment(ref _count);
    }

    /// <summary>Words held now.</summary>
    public int Count => _words.Count;
}
