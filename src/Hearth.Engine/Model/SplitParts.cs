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

    /// <summary>Parses a part's file name (or relative path) <c>PREFIX-0000i-of-0000N.gguf</c>; false for any other name.</summary>
    public static bool TryParseName(string name, out SplitName split)
    {
        var m = PartName().Match(name);
        split = m.Success
            ? new SplitName(m.Groups["prefix"].Value, int.Parse(m.Groups["no"].Value, CultureInfo.InvariantCulture),
                int.Parse(m.Groups["count"].Value, CultureInfo.InvariantCulture), m.Groups["of"].Value, m.Groups["ext"].Value)
            : default;
        return m.Success;
    }

    /// <summary>The name of part <paramref name="number"/> (from 1) of <paramref name="count"/> with <paramref name="prefix"/>.</summary>
    public static string FileName(string prefix, int number, int count) => new SplitName(prefix, number, count, "-of-", ".gguf").WithNumber(number);

    /// <summary>The path of part <paramref name="number"/> (from 1) of <paramref name="count"/>, next to <paramref name="firstPart"/>.</summary>
    public static string PathOf(string firstPart, int number, int count)
    {
        if (!TryParseName(Path.GetFileName(firstPart), out var split))
            throw new ModelLoadException($"{firstPart}: the file says it is part 1 of a {count}-part split model, but its name is not PREFIX-00001-of-{count:D5}.gguf, so its other parts cannot be found.");
        return Path.Combine(Path.GetDirectoryName(firstPart) ?? "", (split with { Count = count }).WithNumber(number));
    }

    /// <summary>
    /// Opens the parts after <paramref name="first"/> when it is the first of a split model (none otherwise), checking
    /// each one's part number and count and the total tensor count. Errors name the part file. The result owns the
    /// files: dispose it, or <see cref="OtherParts.Release"/> them to a new owner.
    /// </summary>
    public static OtherParts OpenRest(GgufFile first)
    {
        var count = first.Metadata.GetInteger(CountKey) ?? 1;
        if (count <= 1)
            return new OtherParts([]);
        var source = first.Path ?? "model";
        var number = first.Metadata.GetInteger(NumberKey) ?? 0;
        if (number != 0)
            throw new ModelLoadException($"{source}: this is part {number + 1} of a {count}-part split model; open the first part (…-00001-of-{count:D5}.gguf).");
        if (first.Path is null)
            throw new ModelLoadException($"model: part 1 of a {count}-part split model was given as bytes; its other parts can only be found next to its file.");
        if (count > MaxParts)
            throw new ModelLoadException($"{source}: {CountKey} is {count}, not a plausible number of parts.");
        var parts = new List<GgufFile>();
        using var owner = new OtherParts(parts);
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
        var actual = first.Tensors.Count + owner.TensorCount;
        if (expected is { } e && e != actual)
            throw new ModelLoadException($"{source}: {TensorCountKey} is {e} but the {count} parts hold {actual} tensors.");
        return new OtherParts([.. owner.Release()]);
    }

    /// <summary>Most parts a split model may have (gguf-split numbers them with five digits; 9999 is far beyond use).</summary>
    public const int MaxParts = 9999;

    private static string Show(long? v) => v?.ToString(CultureInfo.InvariantCulture) ?? "absent";
}

/// <summary>A split part's name: <c>PREFIX-{Number:D5}{Of}{Count:D5}{Ext}</c>, separators as the file spells them.</summary>
internal readonly record struct SplitName(string Prefix, int Number, int Count, string Of, string Ext)
{
    /// <summary>The same name for part <paramref name="number"/>.</summary>
    public string WithNumber(int number) => string.Create(CultureInfo.InvariantCulture, $"{Prefix}-{number:D5}{Of}{Count:D5}{Ext}");
}

/// <summary>The open parts of a split model after the first (none for a single file); disposing closes them.</summary>
internal sealed class OtherParts(List<GgufFile> files) : IDisposable
{
    private List<GgufFile>? _files = files;

    /// <summary>The parts, in order.</summary>
    public IReadOnlyList<GgufFile> Files => _files ?? [];

    /// <summary>Tensors in these parts.</summary>
    public int TensorCount => Files.Sum(f => f.Tensors.Count);

    /// <summary>Bytes of tensor data in these parts.</summary>
    public long TensorBytes => Files.Sum(f => f.Tensors.Sum(t => t.ByteSize));

    /// <summary>Hands the files to a new owner: this object no longer closes them.</summary>
    public GgufFile[] Release()
    {
        var files = Files.ToArray();
        _files = null;
        return files;
    }

    public void Dispose()
    {
        foreach (var f in Files)
            f.Dispose();
        _files = null;
    }
}
