namespace Hearth.Gguf.Tests;

internal static class TestFiles
{
    public static byte[] ToBytes(GgufWriter writer)
    {
        using var ms = new MemoryStream();
        writer.WriteTo(ms);
        return ms.ToArray();
    }
}
