using System.Globalization;
using System.Text;

namespace Hearth.Engine.Tokenization;

/// <summary>
/// WordPiece (<c>tokenizer.ggml.model = bert</c>) as llama.cpp runs it: each code point is reduced to the first code
/// point of its canonical decomposition (accents drop away, and so do free-standing combining accents) and lower-cased; whitespace splits words, control
/// characters vanish, punctuation, ASCII symbols and CJK ideographs become words of their own. Each word, with the
/// phantom-space prefix U+2581, is cut greedily into the longest vocabulary entries (measured in UTF-8 bytes); a word
/// with any part that matches nothing becomes the unknown token.
/// </summary>
internal static class WpmEncoder
{
    public static void Encode(Vocabulary v, string text, int start, int length, List<int> output)
    {
        var words = Preprocess(text.AsSpan(start, length));
        var word = new StringBuilder();
        foreach (var w in words)
        {
            word.Clear().Append('\u2581').Append(w);
            EncodeWord(v, Encoding.UTF8.GetBytes(word.ToString()), output);
        }
    }

    private static void EncodeWord(Vocabulary v, byte[] bytes, List<int> output)
    {
        var before = output.Count;
        var n = bytes.Length;
        // Candidates are byte ranges (llama.cpp measures token length in bytes); one that would end inside a UTF-8
        // sequence cannot equal a token text and is skipped without decoding.
        var chars = n <= 256 ? stackalloc char[n] : new char[n];
        for (var i = 0; i < n; i++)
        {
            var matched = false;
            for (var j = Math.Min(n, i + v.MaxTokenLength + 1); j > i; j--)
            {
                if (j < n && (bytes[j] & 0xC0) == 0x80)
                    continue;
                var length = Encoding.UTF8.GetChars(bytes.AsSpan(i, j - i), chars);
                if (v.TryGetId(chars[..length], out var id))
                {
                    output.Add(id);
                    matched = true;
                    i = j - 1;
                    break;
                }
            }
            if (!matched)
            {
                output.RemoveRange(before, output.Count - before);
                break;
            }
        }
        if (output.Count == before)
            output.Add(v.Unk);
    }

    internal static List<string> Preprocess(ReadOnlySpan<char> text)
    {
        var words = new List<string>();
        var current = new StringBuilder();
        void Finish()
        {
            if (current.Length > 0)
            {
                words.Add(current.ToString());
                current.Clear();
            }
        }

        foreach (var original in text.EnumerateRunes())
        {
            var rune = FirstOfDecomposition(original);
            var cp = rune.Value;
            if (IsWhitespace(cp))
            {
                Finish();
                continue;
            }
            var category = Rune.GetUnicodeCategory(rune);
            // Combining accents (Mn) are stripped, as BERT's normaliser and llama.cpp's reference output do.
            if (cp == 0 || cp == 0xFFFD || IsControl(category) || category == UnicodeCategory.NonSpacingMark)
                continue;
            var lower = Rune.ToLowerInvariant(rune);
            if (IsPunctuation(category) || (cp < 0x7F && IsSymbol(category)) || IsChinese(cp))
            {
                Finish();
                words.Add(lower.ToString());
            }
            else
            {
                current.Append(lower.ToString());
            }
        }
        Finish();
        return words;
    }

    private static Rune FirstOfDecomposition(Rune rune) => new(UnicodeDecomposition.First(rune.Value));

    // llama.cpp's whitespace set (unicode_set_whitespace).
    private static bool IsWhitespace(int cp) => cp is (>= 0x09 and <= 0x0D) or 0x20 or 0x85 or 0xA0 or 0x1680
        or (>= 0x2000 and <= 0x200A) or 0x2028 or 0x2029 or 0x202F or 0x205F or 0x3000;

    private static bool IsControl(UnicodeCategory c) => c is UnicodeCategory.Control or UnicodeCategory.Format
        or UnicodeCategory.Surrogate or UnicodeCategory.PrivateUse;

    private static bool IsPunctuation(UnicodeCategory c) => c is UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation
        or UnicodeCategory.OpenPunctuation or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation
        or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation;

    private static bool IsSymbol(UnicodeCategory c) => c is UnicodeCategory.MathSymbol or UnicodeCategory.CurrencySymbol
        or UnicodeCategory.ModifierSymbol or UnicodeCategory.OtherSymbol;

    private static bool IsChinese(int cp) =>
        cp is (>= 0x4E00 and <= 0x9FFF) or (>= 0x3400 and <= 0x4DBF) or (>= 0x20000 and <= 0x2A6DF)
            or (>= 0x2A700 and <= 0x2B73F) or (>= 0x2B740 and <= 0x2B81F) or (>= 0x2B920 and <= 0x2CEAF)
            or (>= 0xF900 and <= 0xFAFF) or (>= 0x2F800 and <= 0x2FA1F);
}
