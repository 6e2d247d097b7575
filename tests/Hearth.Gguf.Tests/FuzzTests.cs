using System.Buffers.Binary;
using Hearth.Tests.Shared;

namespace Hearth.Gguf.Tests;

/// <summary>
/// Seeded mutation fuzzing of real fixture files: every mutated file either opens (and then every
/// value and tensor can be read) or fails with <see cref="GgufFormatException"/>. Any other exception,
/// a crash or a hang is a bug.
/// </summary>
public class FuzzTests
{
    public static TheoryData<string, int> Targets() => new()
    {
        { "models/stories260K.gguf", 1 },
        { "lora/lora-healthcare.gguf", 2 },
        { "lora/lora-creative.gguf", 3 },
        { "vocab/ggml-vocab-bert-bge.gguf", 4 },
        { "vocab/ggml-vocab-llama-spm.gguf", 5 },
    };

    [Theory]
    [MemberData(nameof(Targets))]
    public void MutatedFilesFailCleanly(string relative, int seed)
    {
        var original = File.ReadAllBytes(Fixtures.File(relative.Split('/')));
        long headerEnd;
        using (var f = GgufFile.Read((byte[])original.Clone()))
            headerEnd = Math.Min(f.DataOffset, original.Length);

        var random = new Random(seed);
        const int Cases = 800;
        int opened = 0, rejected = 0;
        for (var i = 0; i < Cases; i++)
        {
            var (data, description) = Mutate(original, headerEnd, random);
            try
            {
                using var f = GgufFile.Read(data);
                TouchEverything(f);
                opened++;
            }
            catch (GgufFormatException ex)
            {
                Assert.InRange(ex.Offset, 0, data.Length);
                Assert.False(string.IsNullOrWhiteSpace(ex.Reason));
                rejected++;
            }
            catch (Exception ex)
            {
                Assert.Fail($"{relative} case {i} ({description}): {ex.GetType().Name}: {ex.Message}");
            }
        }
        Assert.Equal(Cases, opened + rejected);
        Assert.True(rejected > Cases / 10, $"only {rejected} of {Cases} mutations were rejected");
    }

    private static (byte[] Data, string Description) Mutate(byte[] original, long headerEnd, Random random)
    {
        var data = (byte[])original.Clone();
        // Most mutations hit the header, where parsing happens; some hit anywhere.
        int Position(int width) => (int)Math.Min(random.NextDouble() < 0.9 ? random.NextInt64(headerEnd) : random.NextInt64(data.Length), data.Length - width);
        switch (random.Next(6))
        {
            case 0:
            {
                var n = random.Next(1, 9);
                for (var k = 0; k < n; k++)
                    data[Position(1)] ^= (byte)(1 << random.Next(8));
                return (data, $"{n} bit flips");
            }
            case 1:
            {
                var len = (int)random.NextInt64(Math.Min(headerEnd + 64, data.Length));
                return (data[..len], $"truncated to {len}");
            }
            case 2:
            {
                var p = Position(8);
                ulong[] huge = [ulong.MaxValue, 1UL << 63, 1UL << 40, (ulong)data.Length, (ulong)int.MaxValue + 1, uint.MaxValue];
                var v = huge[random.Next(huge.Length)];
                BinaryPrimitives.WriteUInt64LittleEndian(data.AsSpan(p), v);
                return (data, $"u64 {v} at {p}");
            }
            case 3:
            {
                var p = Position(4);
                var v = (uint)random.Next(0, 64);
                BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(p), v);
                return (data, $"u32 {v} at {p}");
            }
            case 4:
            {
                var p = Position(1);
                data[p] = (byte)random.Next(256);
                return (data, $"random byte at {p}");
            }
            default:
            {
                var p = Position(16);
                var n = random.Next(1, 16);
                random.NextBytes(data.AsSpan(p, n));
                return (data, $"{n} random bytes at {p}");
            }
        }
    }

    private static void TouchEverything(GgufFile f)
    {
        foreach (var kv in f.Metadata)
        {
            _ = kv.Value.ToString();
            if (kv.Value.Type == GgufValueType.Array)
                TouchArray(kv.Value.AsArray());
        }
        var md = f.Metadata;
        try
        {
            _ = (md.Architecture, md.ContextLength, md.BlockCount, md.HeadCount, md.HeadCountKv, md.KeyLength,
                md.TokenizerModel, md.BosTokenId, md.EosTokenId, md.ChatTemplate, md.VocabSize, md.FeedForwardLength);
        }
        catch (GgufFormatException)
        {
            // A well-known key with the wrong type is reported this way; that is the contract.
        }
        foreach (var t in f.Tensors)
        {
            var data = f.GetTensorData(t);
            Assert.Equal(t.ByteSize, data.Length);
            var traits = GgmlTypeTraits.Get(t.Type);
            if (traits.CanDequantize && t.ElementCount > 0)
            {
                var row = new float[t.RowLength];
                GgmlDequantize.Dequantize(t.Type, data[..(int)t.RowBytes], row);
            }
        }
    }

    private static void TouchArray(GgufArray a)
    {
        for (var i = 0; i < Math.Min(a.Count, 64); i++)
        {
            switch (a.ElementType)
            {
                case GgufValueType.String: _ = a.GetString(i); break;
                case GgufValueType.Array: TouchArray(a.GetArray(i)); break;
                case GgufValueType.Float32 or GgufValueType.Float64: break;
                default: _ = SafeInt(a, i); break;
            }
        }
    }

    private static long SafeInt(GgufArray a, int i)
    {
        try
        {
            return a.GetInt64(i);
        }
        catch (InvalidOperationException)
        {
            // A u64 element above long.MaxValue: GetInt64 reports it; not a parser failure.
            return -1;
        }
    }
}
