using Hearth.Engine.Kernels;
using Hearth.Gguf;

namespace Hearth.Engine.Model;

/// <summary>
/// A 2-D weight used in place: a pointer into the memory-mapped file, never a copy.
/// ggml shape [Cols, Rows]: each of the <see cref="Rows"/> output rows holds <see cref="Cols"/> inputs.
/// </summary>
internal sealed unsafe class WeightMatrix
{
    public WeightMatrix(string name, GgmlType type, byte* data, int cols, int rows, WeightKernel kernel)
    {
        Name = name;
        Type = type;
        Data = data;
        Cols = cols;
        Rows = rows;
        Kernel = kernel;
        RowBytes = (nint)GgmlTypeTraits.Get(type).RowBytes(cols);
    }

    /// <summary>Tensor name in the file.</summary>
    public string Name { get; }

    /// <summary>Element type.</summary>
    public GgmlType Type { get; }

    /// <summary>First byte of row 0, inside the mapping.</summary>
    public byte* Data { get; }

    /// <summary>Inputs per row (ggml ne0).</summary>
    public int Cols { get; }

    /// <summary>Output rows (ggml ne1).</summary>
    public int Rows { get; }

    /// <summary>Bytes per row.</summary>
    public nint RowBytes { get; }

    /// <summary>Dot kernels for the type.</summary>
    public WeightKernel Kernel { get; }

    /// <summary>Row <paramref name="r"/>.</summary>
    public byte* Row(int r) => Data + r * RowBytes;

    /// <summary>Dequantizes row <paramref name="r"/> into <paramref name="destination"/> (embedding lookup).</summary>
    public void DequantizeRow(int r, Span<float> destination) =>
        GgmlDequantize.Dequantize(Type, new ReadOnlySpan<byte>(Row(r), (int)RowBytes), destination[..Cols]);
}
