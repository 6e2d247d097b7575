using Hearth.Tests.Shared;

namespace Hearth.Gguf.Tests;

public class WriterTests
{
    public static TheoryData<string> AllFixtureFiles() => [.. Fixtures.AllGguf()];

    [Theory]
    [MemberData(nameof(AllFixtureFiles))]
    public void FixtureRoundTripsByteForByte(string relative)
    {
        var path = Fixtures.File(relative.Split('/'));
        var original = File.ReadAllBytes(path);
        using var file = GgufFile.Open(path);
        var written = TestFiles.ToBytes(GgufWriter.FromFile(file));
        Assert.Equal(original.Length, written.Length);
        var firstDifference = original.AsSpan().CommonPrefixLength(written);
        Assert.True(firstDifference == original.Length, $"{relative}: first differing byte at offset {firstDifference}");
    }

    [Fact]
    public void EveryValueTypeSurvivesWriteAndRead()
    {
        var w = new GgufWriter();
        w.SetMetadata("general.architecture", GgufValue.FromString("test"));
        w.SetMetadata("u8", GgufValue.FromUInt8(250));
        w.SetMetadata("i8", GgufValue.FromInt8(-100));
        w.SetMetadata("u16", GgufValue.FromUInt16(65000));
        w.SetMetadata("i16", GgufValue.FromInt16(-30000));
        w.SetMetadata("u32", GgufValue.FromUInt32(4_000_000_000));
        w.SetMetadata("i32", GgufValue.FromInt32(-2_000_000_000));
        w.SetMetadata("u64", GgufValue.FromUInt64(ulong.MaxValue));
        w.SetMetadata("i64", GgufValue.FromInt64(long.MinValue));
        w.SetMetadata("f32", GgufValue.FromSingle(3.25f));
        w.SetMetadata("f64", GgufValue.FromDouble(-1e300));
        w.SetMetadata("bool", GgufValue.FromBool(true));
        w.SetMetadata("str", GgufValue.FromString("héllo ✓"));
        w.SetMetadata("ints", GgufValue.FromArray(GgufArray.Create<int>(GgufValueType.Int32, [1, -2, 3])));
        w.SetMetadata("strs", GgufValue.FromArray(GgufArray.Create(["a", "", "ü"])));
        w.SetMetadata("nested", GgufValue.FromArray(GgufArray.Create([GgufArray.Create(["x"]), GgufArray.Create<float>(GgufValueType.Float32, [1.5f])])));
        w.SetMetadata("general.alignment", GgufValue.FromUInt32(64));
        float[] data = [1, 2, 3, 4, 5, 6];
        w.AddTensor("t", GgmlType.F32, [3, 2], System.Runtime.InteropServices.MemoryMarshal.AsBytes(data.AsSpan()).ToArray());
        w.AddTensor("s", GgmlType.F16, [4], s => s.Write(new byte[8]));

        using var f = GgufFile.Read(TestFiles.ToBytes(w));
        var md = f.Metadata;
        Assert.Equal(17, md.Count);
        Assert.Equal("u8", md[1].Key);
        Assert.Equal(250, md.GetInteger("u8"));
        Assert.Equal(-100, md.GetInteger("i8"));
        Assert.Equal(65000, md.GetInteger("u16"));
        Assert.Equal(-30000, md.GetInteger("i16"));
        Assert.Equal(4_000_000_000, md.GetInteger("u32"));
        Assert.Equal(-2_000_000_000, md.GetInteger("i32"));
        Assert.True(md.TryGetValue("u64", out var u64));
        Assert.Equal(GgufValueType.UInt64, u64.Type);
        Assert.Equal(ulong.MaxValue.ToString(System.Globalization.CultureInfo.InvariantCulture), u64.ToString());
        Assert.Throws<GgufFormatException>(() => md.GetInteger("u64"));
        Assert.Equal(long.MinValue, md.GetInteger("i64"));
        Assert.Equal(3.25f, md.GetSingle("f32"));
        Assert.True(md.TryGetValue("f64", out var f64));
        Assert.Equal(-1e300, f64.AsDouble());
        Assert.True(md.GetBool("bool"));
        Assert.Equal("héllo ✓", md.GetString("str"));
        Assert.Equal([1, -2, 3], md.GetArray("ints")!.AsSpan<int>().ToArray());
        Assert.Equal(["a", "", "ü"], md.GetArray("strs")!.GetStrings());
        var nested = md.GetArray("nested")!;
        Assert.Equal(GgufValueType.Array, nested.ElementType);
        Assert.Equal("x", nested.GetArray(0).GetString(0));
        Assert.Equal(1.5f, nested.GetArray(1).AsSpan<float>()[0]);
        Assert.Equal(64, f.Alignment);
        Assert.Equal(0, f.DataOffset % 64);
        var t = f.GetTensor("t");
        Assert.Equal([3L, 2L], t.Dimensions);
        Assert.Equal(data, System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(f.GetTensorData(t)).ToArray());
        Assert.Equal(64, f.GetTensor("s").Offset);
    }

    [Fact]
    public void SetMetadataKeepsPositionAndRemoveWorks()
    {
        var w = new GgufWriter();
        w.SetMetadata("a", GgufValue.FromUInt32(1));
        w.SetMetadata("b", GgufValue.FromUInt32(2));
        w.SetMetadata("a", GgufValue.FromUInt32(3));
        Assert.Equal(["a", "b"], w.Metadata.Select(m => m.Key));
        Assert.Equal(3, w.Metadata[0].Value.AsInt64());
        Assert.True(w.RemoveMetadata("a"));
        Assert.False(w.RemoveMetadata("a"));
        Assert.Equal(["b"], w.Metadata.Select(m => m.Key));
    }

    [Fact]
    public void BadTensorsAreRefusedWhenAdded()
    {
        var w = new GgufWriter();
        Assert.Throws<ArgumentException>(() => w.AddTensor("q", GgmlType.Q4_0, [31], new byte[18]));
        Assert.Throws<ArgumentException>(() => w.AddTensor("q", GgmlType.Q4_0, [32], new byte[17]));
        Assert.Throws<ArgumentException>(() => w.AddTensor("q", GgmlType.F32, [1, 1, 1, 1, 1], new byte[4]));
        w.AddTensor("q", GgmlType.Q4_0, [32], new byte[18]);
        Assert.Throws<ArgumentException>(() => w.AddTensor("q", GgmlType.Q4_0, [32], new byte[18]));
    }

    [Fact]
    public void FailedWriteLeavesNoFileAndKeepsTheOldOne()
    {
        var dir = Directory.CreateTempSubdirectory("hearth-gguf-");
        try
        {
            var target = Path.Combine(dir.FullName, "out.gguf");
            File.WriteAllText(target, "previous");
            var w = new GgufWriter();
            w.SetMetadata("general.architecture", GgufValue.FromString("x"));
            w.AddTensor("short", GgmlType.F32, [8], s => s.Write(new byte[4])); // writes 4 of 32 bytes
            var ex = Assert.Throws<InvalidOperationException>(() => w.WriteTo(target));
            Assert.Contains("short", ex.Message);
            Assert.Equal("previous", File.ReadAllText(target));
            Assert.Single(Directory.GetFiles(dir.FullName));

            w.RemoveTensor("short");
            w.AddTensor("ok", GgmlType.F32, [8], new byte[32]);
            w.WriteTo(target);
            using var f = GgufFile.Open(target);
            Assert.Equal("ok", f.Tensors.Single().Name);
            Assert.Single(Directory.GetFiles(dir.FullName));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
