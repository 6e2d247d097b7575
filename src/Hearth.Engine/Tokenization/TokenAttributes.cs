namespace Hearth.Engine.Tokenization;

/// <summary>
/// Per-token attributes, derived from the GGUF token type plus llama.cpp's by-name fix-ups.
/// Flags, because a token can be e.g. control and unused, or carry strip rules.
/// </summary>
[Flags]
internal enum TokenAttributes
{
    Undefined = 0,
    Unknown = 1 << 0,
    Unused = 1 << 1,
    Normal = 1 << 2,
    Control = 1 << 3,
    UserDefined = 1 << 4,
    Byte = 1 << 5,
    Normalized = 1 << 6,
    LStrip = 1 << 7,
    RStrip = 1 << 8,
    SingleWord = 1 << 9,
}

/// <summary>The tokenizer family named by <c>tokenizer.ggml.model</c>.</summary>
internal enum VocabularyKind
{
    /// <summary>SentencePiece BPE by score (<c>llama</c>).</summary>
    Spm = 1,

    /// <summary>Byte-level BPE by merge rank (<c>gpt2</c>).</summary>
    Bpe = 2,

    /// <summary>WordPiece (<c>bert</c>).</summary>
    Wpm = 3,
}
