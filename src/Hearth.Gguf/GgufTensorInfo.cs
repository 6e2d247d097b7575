namespace Hearth.Gguf;

/// <summary>A tensor's description from the GGUF header: name, shape, type and where its data lies.</summary>
public sealed class GgufTensorInfo
{
    internal GgufTensorInfo(string name, GgmlType type, long[] dimensions, long offset, long elementCount, long byteSize, long infoOffset)
    {
        Name = name;
        Type = type;
        Dimensions = dimensions;
        Offset = offset;
        ElementCount = elementCount;
        ByteSize = byteSize;
        InfoOffset = infoOffset;
    }

    /// <summary>Tensor name, e.g. <c>blk.0.attn_q.weight</c>.</summary>
    public string Name { get; }

    /// <summary>Element type.</summary>
    public GgmlType Type { get; }

    /// <summary>Shape in ggml order: <c>Dimensions[0]</c> is the row length (ne0), the fastest-varying index.</summary>
    public IReadOnlyList<long> Dimensions { get; }

    /// <summary>Offset of the data relative to the start of the file's data section.</summary>
    public long Offset { get; }

    /// <summary>Absolute offset of the data in the file (set once the data section is known).</summary>
    public long FileOffset { get; internal set; }

    /// <summary>Number of elements (product of the dimensions).</summary>
    public long ElementCount { get; }

    /// <summary>Bytes of data.</summary>
    public long ByteSize { get; }

    /// <summary>Byte offset of this tensor's entry in the header.</summary>
    public long InfoOffset { get; }

    /// <summary>Elements per row (ne0).</summary>
    public long RowLength => Dimensions.Count == 0 ? 1 : Dimensions[0];

    /// <summary>Number of rows (element count / row length).</summary>
    public long RowCount => RowLength == 0 ? 0 : ElementCount / RowLength;

    /// <summary>Bytes per row.</summary>
    public long RowBytes => GgmlTypeTraits.Get(Type).RowBytes(RowLength);

    /// <summary>The shape as text, ggml order: <c>[64, 32000]</c>.</summary>
    public string ShapeText => "[" + string.Join(", ", Dimensions) + "]";

    /// <inheritdoc />
    public override string ToString() => $"{Name} {GgmlTypeTraits.Get(Type).Name} {ShapeText}";
}
