using System.Text;
using System.Text.Json;
using Hearth.Engine.Sampling;

namespace Hearth.Engine.Tests.Sampling;

/// <summary>JSON mode's recognizer: every valid object passes in any chunking, every kind of invalid text is refused.</summary>
public sealed class JsonConstraintTests
{
    private static readonly string[] _valid =
    [
        "{}",
        "{ }",
        """{"a":1}""",
        """{"name": "Ann", "age": 42, "ok": true, "none": null, "no": false}""",
        """{"n": [-0, 0.5, -12.25e-10, 3E+2, 7e3, 0, 10, 1.0]}""",
        """{"nested": {"deeper": {"list": [[], {}, [1, [2, [3]]]]}}}""",
        """{"esc": "quote \" slash \\ \/ \b\f\n\r\t \u00e9\uD83E\uDD99"}""",
        "{\"utf8\": \"héllo 你好 🦙 ∞\", \"k€y\": \"v\"}",
        "{\n  \"pretty\": [\n    1,\n    2\n  ]\n}\n",
        "{\n\t\t\"tabs\": 1 }\n",
    ];

    public static TheoryData<string> Valid() => [.. _valid];

    [Theory]
    [MemberData(nameof(Valid))]
    public void ValidObjectsPassByteByByteWholeAndInRandomChunks(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        var whole = new JsonConstraint();
        Assert.True(whole.Accept(bytes), text);
        Assert.True(whole.IsComplete);

        var single = new JsonConstraint();
        for (var i = 0; i < bytes.Length; i++)
        {
            Assert.False(single.IsComplete && bytes[i..].Any(b => b is not ((byte)' ' or (byte)'\n' or (byte)'\t' or (byte)'\r')), text);
            Assert.True(single.Accept(bytes.AsSpan(i, 1)), $"{text} at byte {i}");
        }
        Assert.True(single.IsComplete);

        var random = new Random(text.Length);
        for (var round = 0; round < 20; round++)
        {
            var c = new JsonConstraint();
            for (var i = 0; i < bytes.Length;)
            {
                var n = Math.Min(bytes.Length - i, random.Next(1, 6));
                Assert.True(c.Accept(bytes.AsSpan(i, n)), $"{text} chunk at {i}");
                i += n;
            }
            Assert.True(c.IsComplete);
        }
    }

    [Theory]
    [InlineData("[1]", 0)]                       // the answer is one object
    [InlineData("\"text\"", 0)]
    [InlineData("```json", 0)]
    [InlineData("{\"a\":01}", 6)]                // leading zero
    [InlineData("{\"a\":1.}", 7)]                // digit needed after the point
    [InlineData("{\"a\":-}", 6)]
    [InlineData("{\"a\":1e}", 7)]
    [InlineData("{\"a\":+1}", 5)]
    [InlineData("{\"a\":.5}", 5)]
    [InlineData("{\"a\":tru}", 8)]
    [InlineData("{\"a\":nul1}", 8)]
    [InlineData("{\"a\":\"\\x\"}", 7)]           // unknown escape
    [InlineData("{\"a\":\"\\u12g4\"}", 10)]
    [InlineData("{\"a\":\"tab\there\"}", 9)]     // raw control character in a string
    [InlineData("{\"a\" 1}", 5)]                 // missing colon
    [InlineData("{\"a\":1,}", 7)]                // trailing comma
    [InlineData("{,}", 1)]
    [InlineData("{\"a\":[1,]}", 8)]
    [InlineData("{\"a\":[1}", 7)]                // wrong closer
    [InlineData("{\"a\":{]}", 6)]
    [InlineData("{1:2}", 1)]                     // keys are strings
    [InlineData("{'a':1}", 1)]
    [InlineData("{\"a\":1}x", 7)]                // nothing but whitespace after the object
    [InlineData("{\"a\":1}{}", 7)]
    [InlineData("{\"a\":undefined}", 5)]
    public void InvalidTextIsRefusedAtTheFirstBadByte(string text, int badAt)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        var c = new JsonConstraint();
        if (badAt > 0) Assert.True(c.Accept(bytes.AsSpan(0, badAt)), $"prefix of {text}"); // (an empty piece is refused)
        Assert.False(c.CanAccept(bytes.AsSpan(badAt, 1)), text);
        Assert.False(c.Accept(bytes.AsSpan(badAt)), text);
        Assert.False(ReferenceParsesAnObject(bytes)); // the reference agrees it is not one JSON object
    }

    /// <summary>
    /// <paramref name="doc"/> with one non-blank character replaced, removed, or preceded by one from
    /// <paramref name="alphabet"/> (blank space is left alone: removing a character between two runs would join them).
    /// </summary>
    internal static string Mutate(string doc, Random random, string alphabet)
    {
        var text = new StringBuilder(doc);
        int at;
        do at = random.Next(text.Length); while (char.IsWhiteSpace(text[at]));
        switch (random.Next(3))
        {
            case 0: text[at] = alphabet[random.Next(alphabet.Length)]; break;
            case 1: text.Insert(at, alphabet[random.Next(alphabet.Length)]); break;
            default: text.Remove(at, 1); break;
        }
        return text.ToString();
    }

    private static bool ReferenceParsesAnObject(byte[] bytes)
    {
        try
        {
            using var parsed = JsonDocument.Parse(bytes);
            return parsed.RootElement.ValueKind == JsonValueKind.Object;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    [Theory]
    [InlineData(new byte[] { 0xC0, 0x80 })]             // overlong
    [InlineData(new byte[] { 0xE0, 0x80, 0x80 })]       // overlong
    [InlineData(new byte[] { 0xED, 0xA0, 0x80 })]       // UTF-16 surrogate
    [InlineData(new byte[] { 0xF4, 0x90, 0x80, 0x80 })] // above U+10FFFF
    [InlineData(new byte[] { 0xF5, 0x80, 0x80, 0x80 })]
    [InlineData(new byte[] { 0x80 })]                   // lone continuation
    [InlineData(new byte[] { 0xC3, 0x41 })]             // lead without continuation
    public void MalformedUtf8InStringsIsRefused(byte[] sequence)
    {
        var c = new JsonConstraint();
        Assert.True(c.Accept("{\"s\":\""u8));
        Assert.False(c.Accept(sequence));
        Assert.True(c.Accept("\"}"u8)); // the refusal changed nothing
        Assert.True(c.IsComplete);
    }

    [Fact]
    public void TestingATokenChangesNothingAndEmptyPiecesAreRefused()
    {
        var c = new JsonConstraint();
        Assert.True(c.CanAccept("{\"a\""u8));
        Assert.True(c.CanAccept("{\"a\""u8));
        Assert.False(c.CanAccept(""u8));
        Assert.True(c.Accept("{\"a\":"u8));
        Assert.False(c.Accept("}"u8));
        Assert.True(c.Accept("[true]}"u8));
        Assert.True(c.IsComplete);
        Assert.True(c.Accept("\n"u8));
        Assert.False(c.CanAccept(","u8));
    }

    [Fact]
    public void NestingAndBlankRunsAreBounded()
    {
        var c = new JsonConstraint();
        Assert.True(c.Accept("{\"a\":"u8));
        for (var i = 1; i < JsonConstraint.MaxDepth; i++)
            Assert.True(c.Accept("["u8), $"depth {i + 1}");
        Assert.False(c.Accept("["u8));
        Assert.True(c.Accept(Encoding.ASCII.GetBytes(new string(']', JsonConstraint.MaxDepth - 1) + "}")));
        Assert.True(c.IsComplete);

        // Blank space: one space, or a newline and up to MaxIndent spaces or tabs; nothing before the object.
        Assert.False(new JsonConstraint().CanAccept(" {"u8));
        Assert.False(new JsonConstraint().CanAccept("\n{"u8));
        var blank = new JsonConstraint();
        Assert.True(blank.Accept(Encoding.ASCII.GetBytes("{\n" + new string(' ', JsonConstraint.MaxIndent))));
        Assert.False(blank.CanAccept(" "u8));
        Assert.False(blank.CanAccept("\n"u8));
        Assert.True(blank.Accept("\"a\" : 1,\n\t\"b\": 2 }"u8)); // each run ends at any other byte
        Assert.False(blank.CanAccept("  "u8));
        Assert.False(blank.CanAccept("\n\n"u8));
        Assert.False(blank.CanAccept(" \n"u8));
        Assert.False(blank.CanAccept("\r\n"u8));
        Assert.True(blank.Accept("\n"u8));

        var number = new JsonConstraint();
        Assert.True(number.Accept(Encoding.ASCII.GetBytes("{\"n\":" + new string('9', JsonConstraint.MaxNumberLength))));
        Assert.False(number.Accept("9"u8));
    }

    [Fact]
    public void AgreesWithSystemTextJsonOnMutatedDocuments()
    {
        // Every valid document with one character replaced, inserted or removed: the recognizer takes the whole text as
        // a complete object exactly when System.Text.Json parses it to an object. (Whitespace is neither inserted nor
        // touched: blank space is deliberately narrower than JSON's, tested above.)
        var random = new Random(20261206);
        const string Alphabet = "{}[]:,\"\\/-+.0123456789eEtrufalsnabcé";
        var checkedCount = 0;
        foreach (var doc in _valid)
        {
            for (var round = 0; round < 300; round++)
            {
                var text = Mutate(doc, random, Alphabet);
                var bytes = Encoding.UTF8.GetBytes(text);
                var c = new JsonConstraint();
                var ours = c.Accept(bytes) && c.IsComplete;
                var reference = ReferenceParsesAnObject(bytes);
                Assert.True(ours == reference, $"'{text}': recognizer {ours}, System.Text.Json {reference}");
                checkedCount++;
            }
        }
        Assert.Equal(_valid.Length * 300, checkedCount);
    }
}
