using System.Text;
using Hearth.Gguf;

namespace Hearth.Engine.Tokenization;

/// <summary>
/// The tokenizer stored in a GGUF file (<c>tokenizer.ggml.*</c>): SentencePiece (<c>llama</c>) or
/// byte-level BPE (<c>gpt2</c>, with the pre-tokenizer named by <c>tokenizer.ggml.pre</c>). Produces the
/// same ids as llama.cpp's <c>llama_tokenize</c> and the same text as <c>llama_detokenize</c>.
/// Thread-safe: every call keeps its state to itself.
/// </summary>
public sealed class Tokenizer
{
    private readonly Vocabulary _vocabulary;

    private Tokenizer(Vocabulary vocabulary) => _vocabulary = vocabulary;

    /// <summary>Number of tokens in the vocabulary.</summary>
    public int VocabSize => _vocabulary.Count;

    /// <summary>Beginning-of-sequence token id, or -1 when the vocabulary has none.</summary>
    public int Bos => _vocabulary.Bos;

    /// <summary>End-of-sequence token id, or -1.</summary>
    public int Eos => _vocabulary.Eos;

    /// <summary>End-of-turn token id (e.g. <c>&lt;|eot_id|&gt;</c>, <c>&lt;|im_end|&gt;</c>), or -1.</summary>
    public int Eot => _vocabulary.Eot;

    /// <summary>Whether <see cref="Encode(string, bool, bool)"/> with <c>addSpecial</c> puts BOS first.</summary>
    public bool AddBos => _vocabulary.AddBos;

    /// <summary>Whether <see cref="Encode(string, bool, bool)"/> with <c>addSpecial</c> puts EOS last.</summary>
    public bool AddEos => _vocabulary.AddEos;

    /// <summary>The tokenizer model (<c>tokenizer.ggml.model</c>): <c>llama</c> or <c>gpt2</c>.</summary>
    public string Model => _vocabulary.ModelName;

    /// <summary>The pre-tokenizer name (<c>tokenizer.ggml.pre</c>; empty when absent).</summary>
    public string PreTokenizer => _vocabulary.PreName;

    internal Vocabulary Vocabulary => _vocabulary;

    /// <summary>Loads the tokenizer a GGUF file carries.</summary>
    /// <exception cref="NotSupportedException">The tokenizer model or pre-tokenizer is one Hearth does not implement (the message names it).</exception>
    /// <exception cref="InvalidDataException">The tokenizer metadata is missing or malformed (the message names the key).</exception>
    public static Tokenizer FromGguf(GgufFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        return FromMetadata(file.Metadata);
    }

    /// <summary>Loads the tokenizer from GGUF metadata.</summary>
    public static Tokenizer FromMetadata(GgufMetadata metadata)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        return new Tokenizer(Vocabulary.FromMetadata(metadata));
    }

    /// <summary>
    /// Tokenizes <paramref name="text"/>. <paramref name="addSpecial"/> adds BOS/EOS as the vocabulary asks;
    /// <paramref name="parseSpecial"/> lets the text of control tokens (<c>&lt;|im_start|&gt;</c>...) become
    /// those tokens; without it they are tokenized as plain text (user-defined tokens always match, as in llama.cpp).
    /// </summary>
    public int[] Encode(string text, bool addSpecial = true, bool parseSpecial = false)
    {
        var output = new List<int>(text?.Length / 3 + 4 ?? 4);
        Encode(text!, output, addSpecial, parseSpecial);
        return [.. output];
    }

    /// <summary>Tokenizes <paramref name="text"/>, appending the ids to <paramref name="output"/>.</summary>
    public void Encode(string text, List<int> output, bool addSpecial = true, bool parseSpecial = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(output);
        var v = _vocabulary;
        var fragments = Partition(text, parseSpecial);

        if (v.Kind == VocabularyKind.Spm)
        {
            if (addSpecial && v.AddBos) output.Add(v.Bos);
            var prevSpecial = true; // the first text fragment gets the leading space
            var sb = new StringBuilder();
            var encoder = new SpmEncoder(v);
            foreach (var f in fragments)
            {
                if (f.Token >= 0)
                {
                    output.Add(f.Token);
                    prevSpecial = true;
                    continue;
                }
                sb.Clear();
                if (v.AddSpacePrefix && prevSpecial) sb.Append(' ');
                sb.Append(text, f.Start, f.Length);
                sb.Replace(' ', '\u2581');
                encoder.Encode(sb.ToString(), output);
                prevSpecial = false;
            }
            if (addSpecial && v.AddEos) output.Add(v.Eos);
        }
        else if (v.Kind == VocabularyKind.Wpm)
        {
            // BERT: [CLS] text [SEP] (llama.cpp adds the separator as the end token of WPM vocabularies).
            if (addSpecial && v.AddBos) output.Add(v.Bos);
            foreach (var f in fragments)
            {
                if (f.Token >= 0) output.Add(f.Token);
                else WpmEncoder.Encode(v, text, f.Start, f.Length, output);
            }
            if (addSpecial && v.AddSep && v.Sep >= 0) output.Add(v.Sep);
        }
        else
        {
            if (addSpecial && v.AddBos) output.Add(v.Bos);
            var encoder = new BpeEncoder(v);
            foreach (var f in fragments)
            {
                if (f.Token >= 0) output.Add(f.Token);
                else encoder.Encode(text, f.Start, f.Length, output);
            }
            if (addSpecial && v.AddEos) output.Add(v.Eos);
        }
    }

    /// <summary>
    /// The bytes of one token (<c>llama_token_to_piece</c>). With <paramref name="special"/> false, control and
    /// unknown tokens render as nothing. A piece may be part of a UTF-8 sequence (byte tokens).
    /// </summary>
    public ReadOnlySpan<byte> TokenToPiece(int token, bool special = true)
    {
        CheckToken(token);
        if (!special && _vocabulary.Is(token, TokenAttributes.Unknown | TokenAttributes.Control)) return default;
        return _vocabulary.Pieces[token];
    }

    /// <summary>The vocabulary text of a token, as stored in the GGUF file (e.g. <c>▁Hello</c>, <c>ĠHello</c>).</summary>
    public string TokenText(int token)
    {
        CheckToken(token);
        return _vocabulary.Texts[token];
    }

    /// <summary>Whether generation should stop at this token (EOS, EOT and the other end-of-generation tokens llama.cpp recognises).</summary>
    public bool IsEndOfGeneration(int token) => _vocabulary.EndOfGeneration.Contains(token);

    /// <summary>Whether the token is a control token (BOS, EOS, <c>&lt;|im_start|&gt;</c>...).</summary>
    public bool IsControl(int token)
    {
        CheckToken(token);
        return _vocabulary.Is(token, TokenAttributes.Control);
    }

    /// <summary>
    /// Detokenizes (<c>llama_detokenize</c>): <paramref name="removeSpecial"/> drops a leading BOS / trailing EOS the
    /// vocabulary adds; <paramref name="unparseSpecial"/> renders control tokens as their text. Returns UTF-8 bytes.
    /// </summary>
    public byte[] DecodeToUtf8(ReadOnlySpan<int> tokens, bool removeSpecial = false, bool unparseSpecial = false)
    {
        var v = _vocabulary;
        var removeSpace = v.AddSpacePrefix;
        if (removeSpecial && v.AddBos && tokens.Length > 0 && tokens[0] == v.Bos)
        {
            removeSpace = false;
            tokens = tokens[1..];
        }
        if (removeSpecial && v.AddEos && tokens.Length > 0 && tokens[^1] == v.Eos) tokens = tokens[..^1];

        var bytes = new List<byte>(tokens.Length * 4);
        foreach (var t in tokens)
        {
            var piece = TokenToPiece(t, unparseSpecial);
            if (removeSpace && piece.Length > 0 && piece[0] == (byte)' ') piece = piece[1..];
            removeSpace = false;
            bytes.AddRange(piece);
        }
        var result = bytes.ToArray();
        return v.CleanSpaces ? CleanSpaces(result) : result;
    }

    /// <summary>Detokenizes to a string; see <see cref="DecodeToUtf8"/>. Invalid UTF-8 (a cut multi-byte sequence) becomes U+FFFD.</summary>
    public string Decode(ReadOnlySpan<int> tokens, bool removeSpecial = false, bool unparseSpecial = false) =>
        Encoding.UTF8.GetString(DecodeToUtf8(tokens, removeSpecial, unparseSpecial));

    /// <summary>A streaming decoder for generated tokens; see <see cref="TokenDecoder"/>.</summary>
    public TokenDecoder CreateDecoder(bool renderSpecial = false) => new(this, renderSpecial);

    private void CheckToken(int token)
    {
        if ((uint)token >= (uint)_vocabulary.Count)
            throw new ArgumentOutOfRangeException(nameof(token), token, $"Token id outside the vocabulary (0..{_vocabulary.Count - 1}).");
    }

    /// <summary>A run of raw text (<see cref="Token"/> -1) or one special token found in it.</summary>
    private readonly record struct Fragment(int Token, int Start, int Length);

    /// <summary>
    /// Splits the text around special tokens, longest token text first (llama.cpp tokenizer_st_partition).
    /// Control and unknown tokens are only looked for when <paramref name="parseSpecial"/> is set.
    /// </summary>
    private List<Fragment> Partition(string text, bool parseSpecial)
    {
        var fragments = new List<Fragment>();
        if (text.Length == 0) return fragments;
        fragments.Add(new Fragment(-1, 0, text.Length));
        var v = _vocabulary;
        var next = new List<Fragment>();
        foreach (var id in v.SpecialTokens)
        {
            var attr = v.Attributes[id];
            if (!parseSpecial && (attr & (TokenAttributes.Control | TokenAttributes.Unknown)) != 0) continue;
            var special = v.Texts[id];

            var found = false;
            foreach (var f in fragments)
            {
                if (f.Token < 0 && text.AsSpan(f.Start, f.Length).IndexOf(special, StringComparison.Ordinal) >= 0)
                {
                    found = true;
                    break;
                }
            }
            if (!found) continue;

            next.Clear();
            foreach (var f in fragments)
            {
                if (f.Token >= 0)
                {
                    next.Add(f);
                    continue;
                }
                var start = f.Start;
                var end = f.Start + f.Length;
                while (start < end)
                {
                    var at = text.AsSpan(start, end - start).IndexOf(special, StringComparison.Ordinal);
                    if (at < 0) break;
                    at += start;
                    var leftEnd = at;
                    if ((attr & TokenAttributes.LStrip) != 0)
                        while (leftEnd > start && IsCSpace(text[leftEnd - 1])) leftEnd--;
                    if (leftEnd > start) next.Add(new Fragment(-1, start, leftEnd - start));
                    next.Add(new Fragment(id, 0, 0));
                    start = at + special.Length;
                    if ((attr & TokenAttributes.RStrip) != 0)
                        while (start < end && IsCSpace(text[start])) start++;
                }
                if (start < end) next.Add(new Fragment(-1, start, end - start));
            }
            (fragments, next) = (next, fragments);
        }
        return fragments;
    }

    private static bool IsCSpace(char c) => c is ' ' or '\t' or '\n' or '\v' or '\f' or '\r';

    /// <summary>llama.cpp's clean_up_tokenization_spaces, three passes over the bytes.</summary>
    internal static byte[] CleanSpaces(byte[] text)
    {
        var n = text.Length;
        // Pass 1: " ?", " !", " .", " ," lose the space.
        var total = n > 0 ? 1 : 0;
        for (var i = 1; i < n; i++)
        {
            var x = text[i];
            if (text[i - 1] == ' ' && x is (byte)'?' or (byte)'!' or (byte)'.' or (byte)',') total--;
            text[total++] = x;
        }
        // Pass 2: a lone apostrophe between spaces loses both spaces.
        n = total;
        total = n > 0 ? 1 : 0;
        for (var i = 1; i < n; i++)
        {
            var x = text[i];
            if (x == '\'' && i + 1 < n && text[i - 1] == ' ' && text[i + 1] == ' ')
            {
                total--;
                text[++i] = 0;
            }
            text[total++] = x;
        }
        // Pass 3: " 's", " 'm", " 're", " 've" lose the space.
        n = total;
        total = n > 0 ? 1 : 0;
        for (var i = 1; i < n; i++)
        {
            var x = text[i];
            if (text[i - 1] == ' ' && x == '\'' && i + 1 < n)
            {
                var x1 = text[i + 1];
                if (x1 is (byte)'s' or (byte)'m') total--;
                else if (i + 2 < n && ((x1 == 'r' && text[i + 2] == 'e') || (x1 == 'v' && text[i + 2] == 'e'))) total--;
            }
            text[total++] = x;
        }
        return text.AsSpan(0, total).ToArray();
    }
}
