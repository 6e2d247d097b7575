using Hearth.Gguf;

namespace Hearth.Tests.Shared;

/// <summary>Variants of the fixture models written for a test.</summary>
internal static class TestModels
{
    /// <summary>A copy of stories260K at <paramref name="path"/> with <paramref name="keys"/> set in its metadata.</summary>
    public static string StoriesWith(string path, params (string Key, GgufValue Value)[] keys)
    {
        using var source = GgufFile.Open(Fixtures.Stories260K);
        var w = GgufWriter.FromFile(source);
        foreach (var (k, v) in keys)
            w.SetMetadata(k, v);
        w.WriteTo(path);
        return path;
    }

    /// <summary>stories260K declared an embedding model (mean pooling): the stand-in for e.g. Qwen3-Embedding.</summary>
    public static string StoriesEmbedding(string path) => StoriesWith(path, ("llama.pooling_type", GgufValue.FromUInt32(1)));
}
