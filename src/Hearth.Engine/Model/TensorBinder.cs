using Hearth.Engine.Kernels;
using Hearth.Gguf;

namespace Hearth.Engine.Model;

/// <summary>Finds tensors by name (in the file, then in the other parts of a split model) and checks their shapes,
/// handing out views into the mappings.</summary>
internal sealed unsafe class TensorBinder(GgufFile file, string source, IReadOnlyList<GgufFile>? otherParts = null)
{
    /// <summary>The file (the first part of a split model).</summary>
    public GgufFile File => file;

    /// <summary>Finds a tensor and the part that holds it.</summary>
    public bool TryFind(string name, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out GgufTensorInfo? tensor, out GgufFile owner)
    {
        owner = file;
        if (file.TryGetTensor(name, out tensor))
            return true;
        foreach (var part in otherParts ?? [])
        {
            if (part.TryGetTensor(name, out tensor))
            {
                owner = part;
                return true;
            }
        }
        return false;
    }

    /// <summary>A required matrix of ggml shape [<paramref name="cols"/>, <paramref name="rows"/>].</summary>
    public WeightMatrix Matrix(string name, long cols, long rows) =>
        OptionalMatrix(name, cols, rows) ?? throw Missing(name, [cols, rows]);

    /// <summary>An optional matrix; null when absent, an error when present with the wrong shape.</summary>
    public WeightMatrix? OptionalMatrix(string name, long cols, long rows)
    {
        if (!TryFind(name, out var t, out var owner))
            return null;
        CheckShape(t, [cols, rows]);
        var kernel = WeightKernel.TryGet(t.Type)
            ?? throw new ModelLoadException($"{source}: tensor '{name}' has type {GgmlTypeTraits.Get(t.Type).Name}, which the engine cannot multiply with.");
        if (cols % kernel.BlockSize != 0 || cols % kernel.ActivationBlockSize != 0)
            throw new ModelLoadException($"{source}: tensor '{name}' of type {GgmlTypeTraits.Get(t.Type).Name} has rows of {cols}, not a multiple of its block size.");
        return new WeightMatrix(name, t.Type, (byte*)owner.GetTensorAddress(t), (int)cols, (int)rows, kernel);
    }

    /// <summary>A required float32 vector of <paramref name="length"/> elements.</summary>
    public float* Vector(string name, long length)
    {
        var v = OptionalVector(name, length);
        return v != null ? v : throw Missing(name, [length]);
    }

    /// <summary>An optional float32 vector; null when absent.</summary>
    public float* OptionalVector(string name, long length)
    {
        if (!TryFind(name, out var t, out var owner))
            return null;
        CheckShape(t, [length]);
        if (t.Type != GgmlType.F32)
            throw new ModelLoadException($"{source}: tensor '{name}' has type {GgmlTypeTraits.Get(t.Type).Name}; expected f32.");
        return (float*)owner.GetTensorAddress(t);
    }

    private void CheckShape(GgufTensorInfo t, long[] expected)
    {
        var dims = t.Dimensions;
        var ok = dims.Count >= expected.Length;
        for (var i = 0; ok && i < dims.Count; i++)
            ok = dims[i] == (i < expected.Length ? expected[i] : 1);
        if (!ok)
            throw new ModelLoadException($"{source}: tensor '{t.Name}' has shape {t.ShapeText}; expected [{string.Join(", ", expected)}].");
    }

    private ModelLoadException Missing(string name, long[] expected) =>
        new($"{source}: tensor '{name}' (shape [{string.Join(", ", expected)}]) is missing.");
}
