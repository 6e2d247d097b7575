using Hearth.Engine.Runtime;

namespace Hearth.Engine.Tests.Runtime;

/// <summary>The bandwidth probe behind the bench's generation ceiling: its sum is exact and its figures are consistent.</summary>
public sealed class MemoryBandwidthTests
{
    [Fact]
    public void VectorSumEqualsTheScalarReferenceOverManyLengthsAndSeeds()
    {
        foreach (var seed in new[] { 1, 2, 3 })
        {
            var rng = new Random(seed);
            foreach (var length in new[] { 0, 1, 7, 15, 16, 17, 31, 32, 33, 63, 64, 65, 1000, 4099 })
            {
                var words = new ulong[length];
                for (var i = 0; i < length; i++)
                    words[i] = (ulong)rng.NextInt64() ^ ((ulong)rng.NextInt64() << 1);
                Assert.Equal(MemoryBandwidth.SumScalar(words), MemoryBandwidth.Sum(words));
            }
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void MeasureReadsEveryWordOnceAcrossTheThreads(int threads)
    {
        const long bytes = 8L << 20;
        var result = MemoryBandwidth.Measure(bytes, threads, passes: 2);
        const ulong n = bytes / sizeof(ulong);
        // The buffer holds 0, 1, ..., n-1: every word read exactly once sums to n(n-1)/2.
        Assert.Equal(n * (n - 1) / 2, result.Checksum);
        Assert.Equal(bytes, result.Bytes);
        Assert.Equal(threads, result.Threads);
        Assert.True(result.BytesPerSecond > 0 && double.IsFinite(result.BytesPerSecond));
        Assert.Equal(result.BytesPerSecond / 1000, result.CeilingTokensPerSecond(1000), 9);
        Assert.Equal(0, result.CeilingTokensPerSecond(0));
    }

    [Fact]
    public void MeasureRejectsTinyBuffersAndNoThreads()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => MemoryBandwidth.Measure(100, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => MemoryBandwidth.Measure(1 << 20, 0));
    }
}
