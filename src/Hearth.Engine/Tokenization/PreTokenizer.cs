using System.Globalization;
using System.Text.RegularExpressions;

namespace Hearth.Engine.Tokenization;

/// <summary>
/// Splits text into pre-tokens before BPE merging, the way llama.cpp does for a given
/// <c>tokenizer.ggml.pre</c>: a list of regular expressions applied in turn, each one splitting every
/// piece the previous one produced into its matches and the gaps between them (gaps are kept).
/// </summary>
/// <remarks>
/// .NET regular expressions work on UTF-16 code units, so <c>\p{L}</c> would not match a letter outside
/// the BMP. Patterns that use Unicode categories therefore run over a proxy string with one character
/// per code point: BMP code points stand for themselves, others are replaced by a BMP character of the
/// same general category (llama.cpp does the same trick with its "collapsed" text). Patterns written
/// with literal non-ASCII ranges run over the real text, with non-ASCII whitespace shown as U+000B as in
/// llama.cpp. Match positions are mapped back to code points either way.
/// </remarks>
internal sealed class PreTokenizer
{
    private const string Gpt2 = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)";
    private const string Llama3 = @"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    private const string Qwen2 = @"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    private const string Qwen35 = @"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    private const string SeedCoder = @"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1}| ?[^\s\p{L}\p{N}\r\n]+|\s*[\r\n]+|\s+(?!\S)|\s+";
    private const string Poro = @" ?[^(\s|.,!?…。，、।۔،)]+";

    // deepseek-llm's letter class, with its supplementary-plane ranges written as surrogate pairs.
    private const string DeepSeekLetters =
        @"\s?(?:[\u0041-\u005A\u0061-\u007A\u00B5\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u01BA\u01BC-\u01BF\u01C4-\u0293\u0295-\u02AF\u0370-\u0373\u0376-\u0377\u037B-\u037D\u037F\u0386\u0388-\u038A\u038C\u038E-\u03A1\u03A3-\u03F5\u03F7-\u0481\u048A-\u052F\u0531-\u0556\u10A0-\u10C5\u13A0-\u13F5\u13F8-\u13FD\u1C90-\u1CBA\u1CBD-\u1CBF\u1D00-\u1D2B\u1D6B-\u1D77\u1D79-\u1D9A\u1E00-\u1F15\u1F18-\u1F1D\u1F20-\u1F45\u1F48-\u1F4D\u1F50-\u1F57\u1F59\u1F5B\u1F5D\u1F5F-\u1F7D\u1F80-\u1FB4\u1FB6-\u1FBC\u1FBE\u1FC2-\u1FC4\u1FC6-\u1FCC\u1FD0-\u1FD3\u1FD6-\u1FDB\u1FE0-\u1FEC\u1FF2-\u1FF4\u1FF6-\u1FFC\u2102\u2107\u210A-\u2113\u2115\u2119-\u211D\u2124\u2126\u2128\u212A-\u212D\u212F-\u2134\u2139\u213C-\u213F\u2145-\u2149\u214E\u2183-\u2184\u2C00-\u2C7B\u2C7E-\u2CE4\u2CEB-\u2CEE\u2CF2-\u2CF3\uA640-\uA66D\uA680-\uA69B\uA722-\uA76F\uA771-\uA787\uA78B-\uA78E\uAB70-\uABBF\uFB00-\uFB06\uFB13-\uFB17\uFF21-\uFF3A\uFF41-\uFF5A]"
        + @"|\uD801[\uDC00-\uDC4F]|\uD801[\uDCB0-\uDCD3]|\uD801[\uDCD8-\uDCFB]|\uD803[\uDC80-\uDCB2]|\uD803[\uDCC0-\uDCF2]|\uD806[\uDCA0-\uDCDF]|\uD83A[\uDD00-\uDD43])+";

    private static readonly char[] _categoryProxy = BuildCategoryProxies();

    private readonly Rule[] _rules;

    private PreTokenizer(string name, params string[] patterns)
    {
        Name = name;
        _rules = [.. patterns.Select(p => new Rule(p))];
    }

    /// <summary>The pre-tokenizer family (llama.cpp's name for it).</summary>
    public string Name { get; }

    /// <summary>
    /// Picks the pre-tokenizer for a <c>tokenizer.ggml.pre</c> value and sets the per-family flags
    /// llama.cpp ties to it. An unknown value is an error that names it.
    /// </summary>
    public static PreTokenizer Resolve(string pre, Vocabulary vocabulary)
    {
        var cleanSpaces = true;
        PreTokenizer result;
        switch (pre)
        {
            case "" or "default":
                result = new("default", @"[\p{P}\$\+<=>\^~\|]+", Gpt2, @"\p{N}+", "[0-9][0-9][0-9]");
                break;
            case "llama3" or "llama-v3" or "llama-bpe" or "falcon3" or "falcon-h1" or "pixtral" or "midm-2.0" or "lfm2" or "jina-v5-nano":
                result = new("llama3", Llama3);
                vocabulary.IgnoreMerges = true;
                vocabulary.SetAddBosDefault(true);
                break;
            case "dbrx" or "smaug-bpe":
                result = new(pre, Llama3);
                break;
            case "deepseek-llm":
                result = new(pre, "[\r\n]", DeepSeekLetters, @"\s?[!-/:-~\uFF01-\uFF0F\uFF1A-\uFF5E\u2018-\u201F\u3000-\u3002]+", @"\s+\z", @"[\u4E00-\u9FA5\u0800-\u4E00\uAC00-\uD7FF]+", @"\p{N}+");
                cleanSpaces = false;
                break;
            case "deepseek-coder":
                result = new(pre, "[\r\n]", @"\s?\p{L}+", @"\s?\p{P}+", @"[\u4E00-\u9FA5\u0800-\u4E00\uAC00-\uD7FF]+", @"\p{N}");
                cleanSpaces = false;
                break;
            case "falcon":
                result = new(pre, @"[\p{P}\$\+<=>\^~\|`]+", Gpt2, "[0-9][0-9][0-9]");
                break;
            case "starcoder" or "refact" or "codeshell" or "exaone" or "minerva-7b" or "mellum2":
                result = new(pre, @"\p{N}", Gpt2);
                break;
            case "command-r" or "smollm":
                result = new(pre, @"\p{N}", Gpt2);
                cleanSpaces = false;
                break;
            case "gpt-2" or "phi-2" or "jina-es" or "jina-de" or "gigachat" or "jina-v2-es" or "jina-v2-de" or "a.x-4.0" or "mellum"
                or "modern-bert" or "exaone4" or "mpt" or "olmo" or "jais" or "jina-v1-en" or "jina-v2-code" or "roberta-bpe":
                result = new(pre, Gpt2);
                break;
            case "trillion" or "granite-docling":
                result = new(pre, Gpt2);
                cleanSpaces = false;
                break;
            case "stablelm2":
                result = new(pre, Qwen2);
                break;
            case "qwen2" or "deepseek-r1-qwen" or "kormo" or "f2llmv2" or "megrez" or "hunyuan" or "solar-open":
                result = new(pre, Qwen2);
                cleanSpaces = false;
                break;
            case "qwen35":
                result = new(pre, Qwen35);
                cleanSpaces = false;
                break;
            case "seed-coder":
                result = new(pre, SeedCoder);
                cleanSpaces = false;
                break;
            case "grok-2":
                result = new(pre, Qwen2);
                cleanSpaces = false;
                break;
            case "poro-chat" or "bloom" or "gpt3-finnish":
                result = new(pre, Poro);
                cleanSpaces = pre != "poro-chat";
                break;
            case "viking":
                result = new(pre, Poro, @"\p{N}");
                cleanSpaces = false;
                break;
            case "chatglm-bpe" or "glm4":
                result = new(pre, Llama3);
                break;
            default:
                throw new NotSupportedException(
                    $"Unknown BPE pre-tokenizer '{pre}' (tokenizer.ggml.pre); Hearth does not guess a fallback for it.");
        }
        vocabulary.CleanSpaces = cleanSpaces;
        return result;
    }

    /// <summary>
    /// Splits <paramref name="text"/>[<paramref name="start"/>..+<paramref name="length"/>] (UTF-16 units)
    /// into pre-tokens, appended to <paramref name="words"/> as (start, length) in UTF-16 units of <paramref name="text"/>.
    /// </summary>
    public void Split(string text, int start, int length, List<(int Start, int Length)> words)
    {
        if (length == 0) return;
        var segment = text.AsSpan(start, length);

        // Code point boundaries: cpToUnit[i] = UTF-16 offset (within the segment) of code point i.
        var cpToUnit = new List<int>(length + 1);
        for (var i = 0; i < segment.Length; i++)
        {
            cpToUnit.Add(i);
            if (char.IsHighSurrogate(segment[i]) && i + 1 < segment.Length && char.IsLowSurrogate(segment[i + 1])) i++;
        }
        var cpCount = cpToUnit.Count;
        cpToUnit.Add(segment.Length);

        string? proxy = null;
        string? real = null;
        int[]? unitToCp = null;

        var offsets = new List<int> { cpCount };
        var next = new List<int>();
        foreach (var rule in _rules)
        {
            next.Clear();
            ReadOnlySpan<char> subject;
            if (rule.OnRealText)
            {
                real ??= RealSubject(segment);
                if (unitToCp is null)
                {
                    unitToCp = new int[segment.Length + 1];
                    for (var c = 0; c < cpCount; c++)
                        for (var u = cpToUnit[c]; u < cpToUnit[c + 1]; u++) unitToCp[u] = c;
                    unitToCp[segment.Length] = cpCount;
                }
                subject = real;
            }
            else
            {
                proxy ??= ProxySubject(segment, cpCount);
                subject = proxy;
            }

            var chunkStart = 0;
            foreach (var chunkLength in offsets)
            {
                int from, to;
                if (rule.OnRealText) { from = cpToUnit[chunkStart]; to = cpToUnit[chunkStart + chunkLength]; }
                else { from = chunkStart; to = chunkStart + chunkLength; }

                var done = 0; // in code points, relative to the chunk
                foreach (var m in rule.Regex.EnumerateMatches(subject[from..to]))
                {
                    int mStart, mEnd;
                    if (rule.OnRealText)
                    {
                        mStart = unitToCp![from + m.Index] - chunkStart;
                        mEnd = unitToCp[from + m.Index + m.Length] - chunkStart;
                    }
                    else
                    {
                        mStart = m.Index;
                        mEnd = m.Index + m.Length;
                    }
                    if (mStart > done) next.Add(mStart - done);
                    if (mEnd > mStart) next.Add(mEnd - mStart);
                    done = mEnd;
                }
                if (done < chunkLength) next.Add(chunkLength - done);
                chunkStart += chunkLength;
            }
            (offsets, next) = (next, offsets);
        }

        var cp = 0;
        foreach (var len in offsets)
        {
            if (len == 0) continue;
            var s = cpToUnit[cp];
            var e = cpToUnit[cp + len];
            words.Add((start + s, e - s));
            cp += len;
        }
    }

    private static string ProxySubject(ReadOnlySpan<char> segment, int cpCount)
    {
        return string.Create(cpCount, segment.ToString(), static (dst, src) =>
        {
            var j = 0;
            for (var i = 0; i < src.Length; i++)
            {
                var c = src[i];
                if (char.IsHighSurrogate(c) && i + 1 < src.Length && char.IsLowSurrogate(src[i + 1]))
                {
                    var cp = char.ConvertToUtf32(c, src[i + 1]);
                    dst[j++] = _categoryProxy[(int)CharUnicodeInfo.GetUnicodeCategory(cp)];
                    i++;
                }
                else
                {
                    dst[j++] = c;
                }
            }
        });
    }

    private static string RealSubject(ReadOnlySpan<char> segment)
    {
        var chars = segment.ToArray();
        for (var i = 0; i < chars.Length; i++)
            if (chars[i] > 0x7F && char.IsWhiteSpace(chars[i]) && IsRegexWhitespace(chars[i])) chars[i] = '\v';
        return new string(chars);
    }

    private static bool IsRegexWhitespace(char c) =>
        c == '\u0085' || CharUnicodeInfo.GetUnicodeCategory(c) is UnicodeCategory.SpaceSeparator or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator;

    private static char[] BuildCategoryProxies()
    {
        var count = Enum.GetValues<UnicodeCategory>().Length;
        var proxies = new char[count];
        Array.Fill(proxies, '\uE000'); // private use: matches none of \p{L}\p{N}\p{P}\p{S}\p{M}, like llama.cpp's "other"
        var found = new bool[count];
        for (var c = 0x80; c < 0xD800; c++)
        {
            var cat = (int)CharUnicodeInfo.GetUnicodeCategory((char)c);
            if (!found[cat] && !char.IsWhiteSpace((char)c))
            {
                proxies[cat] = (char)c;
                found[cat] = true;
            }
        }
        return proxies;
    }

    private sealed class Rule
    {
        public Rule(string pattern)
        {
            // As in llama.cpp: patterns with Unicode categories run on the one-char-per-code-point proxy,
            // the others (literal ranges, some beyond the BMP) on the real text.
            OnRealText = !pattern.Contains(@"\p{", StringComparison.Ordinal);
            Regex = new Regex(pattern, RegexOptions.CultureInvariant | RegexOptions.Compiled);
        }

        public Regex Regex { get; }

        public bool OnRealText { get; }
    }
}
