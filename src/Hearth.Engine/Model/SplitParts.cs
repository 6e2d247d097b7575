using System.Globalization;
using System.Text.RegularExpressions;
using Hearth.Gguf;

namespace Hearth.Engine.Model;

/// <summary>
/// Models split by llama.cpp's <c>gguf-split</c>: files named <c>PREFIX-00001-of-0000N.gguf</c>, the first holding the
/// metadata and <c>split.count</c> = N, each part its own tensors (and <c>split.no</c>, counting from 0). The parts
/// are mapped in place like a single file.
/// </summary>
internal static partial class SplitParts
{
    /// <summary>Metadata key: this part's index, from 0.</summary>
    public const string NumberKey = "split.no";

    /// <summary>Metadata key: the number of parts.</summary>
    public const string CountKey = "split.count";

    /// <summary>Metadata key: tensors in all parts together.</summary>
    public const string TensorCountKey = "split.tensors.count";

    [GeneratedRegex(@"^(?<prefix>.+)-(?<no>\d{5})(?<of>-of-)(?<count>\d{5})(?<ext>\.gguf)$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex PartName();

    /// <summary>The path of part <paramref name="number"/> (from 1) of <paramref name="count"/>, next to <paramref name="firstPart"/>.</summary>
    public static string PathOf(string firstPart, int number, int count)
    {
        var m = PartName().Match(Path.GetFileName(firstPart));
        if (!m.Success)
            throw new ModelLoadException($"{firstPart}: the file says it is part 1 of a {count}-part split model, but its name is not PREFIX-00001-of-{count:D5}.gguf, so its other parts cannot be found.");
        // The separators as the first part spells them ("-OF-", ".GGUF"): names are case-sensitive on most file systems.
        var name = string.Create(CultureInfo.InvariantCulture, $"{m.Groups["prefix"].Value}-{number:D5}{m.Groups["of"].Value}{count:D5}{m.Groups["ext"].Value}");
        return Path.Combine(Path.GetDirectoryName(firstPart) ?? "", name);
    }

    /// <summary>
    /// Opens the parts after <paramref name="first"/> when it is the first of a split model (none otherwise), checking
    /// each one's part number and count and the total tensor count. Errors name the part file.
    /// </summary>
    public static GgufFile[] OpenRest(GgufFile first)
    {
        var count = first.Metadata.GetInteger(CountKey) ?? 1;
        if (count <= 1)
            return [];
        var source = first.Path ?? "model";
        var number = first.Metadata.GetInteger(NumberKey) ?? 0;
        if (number != 0)
            throw new ModelLoadException($"{source}: this is part {number + 1} of a {count}-part split model; open the first part (…-00001-of-{count:D5}.gguf).");
        if (first.Path is null)
            throw new ModelLoadException($"model: part 1 of a {count}-part split model was given as bytes; its other parts can only be found next to its file.");
        if (count > 9999)
            throw new ModelLoadException($"{source}: {CountKey} is {count}, not a plausible number of parts.");
        var parts = new List<GgufFile>();
        try
        {
            for (var i = 2; i <= count; i++)
            {
                var path = PathOf(first.Path, i, (int)count);
                if (!File.Exists(path))
                    throw new ModelLoadException($"{source}: part {i} of {count} of this split model is missing: {path}");
                var part = GgufFile.Open(path);
                parts.Add(part);
                var no = part.Metadata.GetInteger(NumberKey);
                var partCount = part.Metadata.GetInteger(CountKey);
                if (no != i - 1 || partCount != count)
                    throw new ModelLoadException($"{path}: expected part {i} of {count} ({NumberKey} = {i - 1}, {CountKey} = {count}); the file says {NumberKey} = {Show(no)}, {CountKey} = {Show(partCount)}.");
            }
            var expected = first.Metadata.GetInteger(TensorCountKey);
            var actual = first.Tensors.Count + parts.Sum(p => p.Tensors.Count);
            if (expected is { } e && e != actual)
                throw new ModelLoadException($"{source}: {TensorCountKey} is {e} but the {count} parts hold {actual} tensors.");
            return [.. parts];
        }
        catch
        {
            foreach (var p in parts)
                p.Dispose();
            throw;
        }
    }

    private static string Show(long? v) => v?.ToString(CultureInfo.InvariantCulture) ?? "absent";
}
