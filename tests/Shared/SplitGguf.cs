using Hearth.Gguf;

namespace Hearth.Tests.Shared;

/// <summary>
/// Writes a model the way llama.cpp's <c>gguf-split</c> does: <c>PREFIX-0000i-of-0000N.gguf</c>, the first part with
/// every metadata key plus <c>split.no</c> (u16), <c>split.count</c> (u16) and <c>split.tensors.count</c> (i32), the
/// others with only the split keys; the tensors, in order, divided into N contiguous runs.
/// </summary>
internal static class SplitGguf
{
    public static IReadOnlyList<string> Write(string sourcePath, string directory, string prefix, int parts)
    {
        using var source = GgufFile.Open(sourcePath);
        var tensors = source.Tensors;
        var paths = new List<string>();
        for (var i = 0; i < parts; i++)
        {
            var writer = i == 0 ? GgufWriter.FromFile(source) : new GgufWriter { Version = source.Version };
            if (i == 0)
            {
                foreach (var t in tensors)
                    writer.RemoveTensor(t.Name);
            }
            writer.SetMetadata("split.no", GgufValue.FromUInt16((ushort)i));
            writer.SetMetadata("split.count", GgufValue.FromUInt16((ushort)parts));
            writer.SetMetadata("split.tensors.count", GgufValue.FromInt32(tensors.Count));
            var from = tensors.Count * i / parts;
            var to = tensors.Count * (i + 1) / parts;
            for (var k = from; k < to; k++)
                writer.AddTensor(source, tensors[k]);
            var path = Path.Combine(directory, $"{prefix}-{i + 1:D5}-of-{parts:D5}.gguf");
            writer.WriteTo(path);
            paths.Add(path);
        }
        return paths;
    }
}
