namespace Hearth.Engine.Tokenization;

/// <summary>
/// The first code point of a code point's canonical decomposition (what llama.cpp's WordPiece normaliser keeps:
/// "é" → "e"). A table rather than <see cref="string.Normalize()"/>, which Hearth cannot rely on: it runs in
/// globalization-invariant mode, where only ASCII is normalised.
/// </summary>
internal static partial class UnicodeDecomposition
{
    // The table was produced with:
    //   for cp in range(0x110000): skip Hangul syllables; d = unicodedata.normalize('NFD', chr(cp));
    //   if d != chr(cp): emit (cp, ord(d[0]))
    // Built on first use, after Pairs (declared in the other part of this class) is initialised.
    private static int[] Keys => KeyIndex.Keys;

    private static class KeyIndex
    {
        public static readonly int[] Keys = BuildKeys();
    }

    private static int[] BuildKeys()
    {
        var keys = new int[Pairs.Length / 2];
        for (var i = 0; i < keys.Length; i++)
            keys[i] = Pairs[2 * i];
        return keys;
    }

    /// <summary>Number of code points the table maps (Hangul syllables excluded).</summary>
    internal static int Count => Keys.Length;

    /// <summary>The first code point of the NFD of <paramref name="codePoint"/> (itself when it does not decompose).</summary>
    public static int First(int codePoint)
    {
        // Hangul syllables decompose algorithmically into leading consonant, vowel and optional trailing consonant.
        if (codePoint is >= 0xAC00 and <= 0xD7A3)
            return 0x1100 + (codePoint - 0xAC00) / (21 * 28);
        if (codePoint < 0xC0)
            return codePoint;
        var i = Array.BinarySearch(Keys, codePoint);
        return i >= 0 ? Pairs[2 * i + 1] : codePoint;
    }
}
