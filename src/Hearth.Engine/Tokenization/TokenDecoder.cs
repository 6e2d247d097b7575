using System.Text;

namespace Hearth.Engine.Tokenization;

/// <summary>
/// Turns generated tokens into text as they arrive. A UTF-8 sequence split across tokens (byte tokens,
/// or BPE tokens that end mid-character) is held back until it is complete, so a valid sequence never
/// comes out as U+FFFD. Pieces are rendered as llama.cpp streams them (<c>llama_token_to_piece</c>):
/// no leading-space removal and no clean-up of spaces, which only whole-text <see cref="Tokenizer.Decode"/> does.
/// Not thread-safe: one decoder per stream.
/// </summary>
public sealed class TokenDecoder
{
    private readonly Tokenizer _tokenizer;
    private readonly bool _renderSpecial;
    private readonly byte[] _pending = new byte[4];
    private int _pendingCount;
    private byte[] _buffer = new byte[64];

    internal TokenDecoder(Tokenizer tokenizer, bool renderSpecial)
    {
        _tokenizer = tokenizer;
        _renderSpecial = renderSpecial;
    }

    /// <summary>Adds a token; returns the text that is now complete (possibly empty).</summary>
    public string Append(int token)
    {
        var piece = _tokenizer.TokenToPiece(token, _renderSpecial);
        var total = _pendingCount + piece.Length;
        if (_buffer.Length < total) _buffer = new byte[Math.Max(total, _buffer.Length * 2)];
        _pending.AsSpan(0, _pendingCount).CopyTo(_buffer);
        piece.CopyTo(_buffer.AsSpan(_pendingCount));
        _pendingCount = 0;

        var complete = CompleteLength(_buffer.AsSpan(0, total));
        var held = total - complete;
        _buffer.AsSpan(complete, held).CopyTo(_pending);
        _pendingCount = held;
        return complete == 0 ? "" : Encoding.UTF8.GetString(_buffer, 0, complete);
    }

    /// <summary>Ends the stream: returns whatever is still held back (an incomplete sequence becomes U+FFFD).</summary>
    public string Flush()
    {
        var s = _pendingCount == 0 ? "" : Encoding.UTF8.GetString(_pending, 0, _pendingCount);
        _pendingCount = 0;
        return s;
    }

    /// <summary>
    /// Length of the prefix that can be decoded now: everything except a trailing sequence that is a valid
    /// start of a UTF-8 character but not yet complete. Invalid bytes are not held (they could never complete).
    /// </summary>
    internal static int CompleteLength(ReadOnlySpan<byte> bytes)
    {
        var n = bytes.Length;
        // Look back at most 3 bytes for the lead byte of the last sequence.
        for (var back = 1; back <= Math.Min(3, n); back++)
        {
            var b = bytes[n - back];
            if ((b & 0xC0) == 0x80) continue; // continuation byte: keep looking for the lead
            var need = b >= 0xF0 && b <= 0xF4 ? 4 : b >= 0xE0 ? 3 : b >= 0xC2 && b < 0xE0 ? 2 : 1;
            if (b >= 0xF5) need = 1;
            if (need > back && IsValidPrefix(bytes[(n - back)..])) return n - back;
            return n;
        }
        return n;
    }

    // Whether an incomplete sequence could still become a valid character (rules out overlongs and surrogates early).
    private static bool IsValidPrefix(ReadOnlySpan<byte> seq)
    {
        if (seq.Length < 2) return true;
        var lead = seq[0];
        var second = seq[1];
        return lead switch
        {
            0xE0 => second >= 0xA0,
            0xED => second < 0xA0,
            0xF0 => second >= 0x90,
            0xF4 => second < 0x90,
            _ => true,
        };
    }
}
