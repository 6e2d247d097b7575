using System.Buffers.Binary;

namespace Hearth.Gguf.Tests;

public class MalformedFileTests
{
    private static byte[] Minimal(Action<GgufWriter>? configure = null)
    {
        var w = new GgufWriter();
        w.SetMetadata("general.architecture", GgufValue.FromString("llama"));
        w.SetMetadata("tokens", GgufValue.FromArray(GgufArray.Create(["a", "bc"])));
        w.AddTensor("a", GgmlType.F32, [8], new byte[32]);
        w.AddTensor("b", GgmlType.Q8_0, [32, 2], new byte[68]);
        configure?.Invoke(w);
        return TestFiles.ToBytes(w);
    }

    private static GgufFormatException Fails(byte[] data) => Assert.Throws<GgufFormatException>(() => GgufFile.Read(data).Dispose());

    // Layout of Minimal(): header 24 bytes; key "general.architecture" (8 + 20), type (4), value (8 + 5) => 69;
    // key "tokens" (8 + 6), type 4, element type 4, count 8, "a" (9), "bc" (10) => 118; first tensor info at 118.
    private const int FirstKeyOffset = 24;
    private const int SecondKeyOffset = 69;
    private const int FirstTensorInfo = 118;

    [Fact]
    public void LayoutAssumptionsHold()
    {
        using var f = GgufFile.Read(Minimal());
        Assert.Equal(FirstKeyOffset, f.Metadata[0].Offset);
        Assert.Equal(SecondKeyOffset, f.Metadata[1].Offset);
        Assert.Equal(FirstTensorInfo, f.Tensors[0].InfoOffset);
    }

    [Fact]
    public void TruncatedHeader()
    {
        // Cut inside the element count of the "tokens" array (bytes 91..99).
        var ex = Fails(Minimal()[..95]);
        Assert.Contains("file ends inside the array length of key 'tokens'", ex.Message);
        Assert.Equal(91, ex.Offset);
    }

    [Fact]
    public void TruncatedTensorData()
    {
        var data = Minimal();
        var ex = Fails(data[..^40]);
        Assert.Contains("tensor 'b'", ex.Message);
        Assert.Contains("past the end of the file", ex.Message);
    }

    [Fact]
    public void TooShortForAHeader()
    {
        var ex = Fails(new byte[10]);
        Assert.Contains("24", ex.Message);
    }

    [Fact]
    public void BadMagic()
    {
        var data = Minimal();
        data[0] = (byte)'X';
        var ex = Fails(data);
        Assert.Equal(0, ex.Offset);
        Assert.Contains("not a GGUF file", ex.Message);
    }

    [Fact]
    public void BigEndian()
    {
        var data = Minimal();
        BinaryPrimitives.WriteUInt32BigEndian(data.AsSpan(4), 3);
        var ex = Fails(data);
        Assert.Equal(4, ex.Offset);
        Assert.Contains("big-endian", ex.Message);
    }

    [Theory]
    [InlineData(1u, "version 1")]
    [InlineData(4u, "unsupported GGUF version 4")]
    public void UnsupportedVersion(uint version, string message)
    {
        var data = Minimal();
        BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(4), version);
        var ex = Fails(data);
        Assert.Equal(4, ex.Offset);
        Assert.Contains(message, ex.Message);
    }

    [Fact]
    public void AbsurdCounts()
    {
        var data = Minimal();
        BinaryPrimitives.WriteUInt64LittleEndian(data.AsSpan(8), ulong.MaxValue);
        Assert.Equal(8, Fails(data).Offset);
        data = Minimal();
        BinaryPrimitives.WriteUInt64LittleEndian(data.AsSpan(16), 1UL << 40);
        Assert.Equal(16, Fails(data).Offset);
    }

    [Fact]
    public void StringRunningPastTheEnd()
    {
        var data = Minimal();
        BinaryPrimitives.WriteUInt64LittleEndian(data.AsSpan(FirstKeyOffset), 1UL << 50);
        var ex = Fails(data);
        Assert.Equal(FirstKeyOffset, ex.Offset);
        Assert.Contains("past the end", ex.Message);
    }

    [Fact]
    public void HugeArrayCount()
    {
        var data = Minimal();
        var countOffset = SecondKeyOffset + 8 + 6 + 4 + 4;
        BinaryPrimitives.WriteUInt64LittleEndian(data.AsSpan(countOffset), ulong.MaxValue / 2);
        var ex = Fails(data);
        Assert.Equal(countOffset, ex.Offset);
        Assert.Contains("tokens", ex.Message);
    }

    [Fact]
    public void UnknownValueType()
    {
        var data = Minimal();
        var typeOffset = FirstKeyOffset + 8 + 20;
        BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(typeOffset), 13);
        var ex = Fails(data);
        Assert.Equal(typeOffset, ex.Offset);
        Assert.Contains("general.architecture", ex.Message);
        Assert.Contains("unknown value type 13", ex.Message);
    }

    [Fact]
    public void UnknownTensorType()
    {
        var data = Minimal();
        var typeOffset = FirstTensorInfo + 8 + 1 + 4 + 8;
        BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(typeOffset), 4); // Q4_2, removed from ggml
        var ex = Fails(data);
        Assert.Equal(typeOffset, ex.Offset);
        Assert.Contains("unknown ggml type id 4", ex.Message);
        Assert.Contains("'a'", ex.Message);
    }

    [Fact]
    public void TooManyDimensions()
    {
        var data = Minimal();
        BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(FirstTensorInfo + 9), 5);
        var ex = Fails(data);
        Assert.Equal(FirstTensorInfo + 9, ex.Offset);
        Assert.Contains("5 dimensions", ex.Message);
    }

    [Fact]
    public void MisalignedOffset()
    {
        var data = Minimal();
        var secondInfo = FirstTensorInfo + 8 + 1 + 4 + 8 + 4 + 8;
        var offsetField = secondInfo + 8 + 1 + 4 + 16 + 4;
        BinaryPrimitives.WriteUInt64LittleEndian(data.AsSpan(offsetField), 33);
        var ex = Fails(data);
        Assert.Equal(offsetField, ex.Offset);
        Assert.Contains("alignment", ex.Message);
    }

    [Fact]
    public void OverlappingTensors()
    {
        var data = Minimal();
        var secondInfo = FirstTensorInfo + 8 + 1 + 4 + 8 + 4 + 8;
        var offsetField = secondInfo + 8 + 1 + 4 + 16 + 4;
        BinaryPrimitives.WriteUInt64LittleEndian(data.AsSpan(offsetField), 0);
        var ex = Fails(data);
        Assert.Contains("overlaps", ex.Message);
    }

    [Fact]
    public void BadRowLengthForBlockType()
    {
        var data = Minimal();
        var secondInfo = FirstTensorInfo + 8 + 1 + 4 + 8 + 4 + 8;
        BinaryPrimitives.WriteUInt64LittleEndian(data.AsSpan(secondInfo + 8 + 1 + 4), 33);
        var ex = Fails(data);
        Assert.Contains("block size 32", ex.Message);
    }

    [Fact]
    public void DuplicateKeyAndTensor()
    {
        var data = Minimal();
        // Rename key "tokens" to "general.architecture"? Lengths differ; instead rename tensor "b" to "a".
        var secondInfo = FirstTensorInfo + 8 + 1 + 4 + 8 + 4 + 8;
        data[secondInfo + 8] = (byte)'a';
        var ex = Fails(data);
        Assert.Equal(secondInfo, ex.Offset);
        Assert.Contains("duplicate tensor name 'a'", ex.Message);
    }

    [Fact]
    public void BadAlignment()
    {
        var data = Minimal(w => w.SetMetadata("general.alignment", GgufValue.FromUInt32(32)));
        var aligned = data.AsSpan().IndexOf("general.alignment"u8);
        BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(aligned + 17 + 4), 48);
        var ex = Fails(data);
        Assert.Contains("power of two", ex.Message);
        Assert.Equal(aligned - 8, ex.Offset);
    }

    [Fact]
    public void FileErrorsNameThePath()
    {
        var path = Path.Combine(Path.GetTempPath(), $"hearth-bad-{Guid.NewGuid():N}.gguf");
        var data = Minimal();
        data[0] = 0;
        File.WriteAllBytes(path, data);
        try
        {
            var ex = Assert.Throws<GgufFormatException>(() => GgufFile.Open(path).Dispose());
            Assert.Equal(path, ex.Path);
            Assert.StartsWith(path, ex.Message);
            // The file is closed again: it can be deleted and rewritten.
            File.WriteAllBytes(path, Minimal());
            using var ok = GgufFile.Open(path);
            Assert.Equal(2, ok.Tensors.Count);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
