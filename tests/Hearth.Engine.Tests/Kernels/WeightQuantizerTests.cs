using Hearth.Engine.Kernels;
using Hearth.Gguf;

namespace Hearth.Engine.Tests.Kernels;

/// <summary>Round trip of the generator's quantizers: quantize, dequantize with ggml's reference, relative RMS error under the type's bound.</summary>
public sealed class WeightQuantizerTests
{
    [Theory]
    [InlineData(GgmlType.Q8_0, 0.01)]
    [InlineData(GgmlType.Q6_K, 0.03)]
    [InlineData(GgmlType.Q5_0, 0.06)]
    [InlineData(GgmlType.Q4_K, 0.12)]
    [InlineData(GgmlType.F16, 0.001)]
    public void RoundTripErrorIsBounded(GgmlType type, double maxRelativeRms)
    {
        var rng = new Random(5);
        const int N = 4096;
        var x = new float[N];
        for (var i = 0; i < N; i++)
        {
            // Gaussian (Box-Muller) with a few outliers, like real weights.
            var g = Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
            x[i] = (float)(g * 0.02 * (i % 97 == 0 ? 5 : 1));
        }
        var q = new byte[GgmlTypeTraits.Get(type).RowBytes(N)];
        WeightQuantizer.Quantize(type, x, q);
        var y = new float[N];
        GgmlDequantize.Dequantize(type, q, y);
        double err = 0, rms = 0;
        for (var i = 0; i < N; i++)
        {
            err += (x[i] - y[i]) * (double)(x[i] - y[i]);
            rms += x[i] * (double)x[i];
        }
        var relative = Math.Sqrt(err / rms);
        Assert.True(relative < maxRelativeRms, $"{type}: relative RMS error {relative}");
        Assert.True(relative > 0 || type == GgmlType.F32);
    }

    [Fact]
    public void RejectsTypesItCannotWrite() =>
        Assert.Throws<NotSupportedException>(() => WeightQuantizer.Quantize(GgmlType.Q2_K, new float[256], new byte[84]));
}
