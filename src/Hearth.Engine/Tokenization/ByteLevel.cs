namespace Hearth.Engine.Tokenization;

/// <summary>
/// GPT-2's byte-level alphabet: every byte value maps to one printable character, so that BPE can
/// work on text while covering arbitrary bytes. Printable Latin-1 bytes map to themselves; the other
/// 68 bytes map, in byte order, to U+0100 onwards.
/// </summary>
internal static class ByteLevel
{
    private static readonly char[] _byteToChar = BuildByteToChar();
    private static readonly short[] _charToByte = BuildCharToByte();

    public static char ByteToChar(byte b) => _byteToChar[b];

    /// <summary>The byte a byte-level character stands for, or -1 when the character is not in the alphabet.</summary>
    public static int CharToByte(char c) => c < _charToByte.Length ? _charToByte[c] : -1;

    /// <summary>Maps UTF-8 bytes to their byte-level characters, appending to <paramref name="destination"/>.</summary>
    public static void Encode(ReadOnlySpan<byte> bytes, Span<char> destination)
    {
        for (var i = 0; i < bytes.Length; i++) destination[i] = _byteToChar[bytes[i]];
    }

    /// <summary>
    /// Decodes a byte-level token text to its bytes. A character outside the alphabet becomes the marker
    /// llama.cpp writes for it (<c>[UNK_BYTE_0x..]</c>), so nothing is silently dropped.
    /// </summary>
    public static byte[] Decode(string text)
    {
        var result = new List<byte>(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            var b = CharToByte(text[i]);
            if (b >= 0)
            {
                result.Add((byte)b);
                continue;
            }
            var cpLen = char.IsHighSurrogate(text[i]) && i + 1 < text.Length ? 2 : 1;
            var utf8 = System.Text.Encoding.UTF8.GetBytes(text.Substring(i, cpLen));
            result.AddRange("[UNK_BYTE_0x"u8);
            foreach (var u in utf8) result.AddRange(System.Text.Encoding.ASCII.GetBytes(u.ToString("x2", System.Globalization.CultureInfo.InvariantCulture)));
            result.AddRange(System.Text.Encoding.UTF8.GetBytes(text));
            result.Add((byte)']');
            i += cpLen - 1;
        }
        return [.. result];
    }

    private static char[] BuildByteToChar()
    {
        var map = new char[256];
        var next = 256;
        for (var b = 0; b < 256; b++)
        {
            var printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            map[b] = printable ? (char)b : (char)next++;
        }
        return map;
    }

    private static short[] BuildCharToByte()
    {
        var map = new short[324];
        Array.Fill(map, (short)-1);
        for (var b = 0; b < 256; b++) map[_byteToChar[b]] = (short)b;
        return map;
    }
}
