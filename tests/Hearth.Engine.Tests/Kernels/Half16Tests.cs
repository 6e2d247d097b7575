using System.Runtime.Intrinsics;
using Hearth.Engine.Kernels;
using Hearth.Engine.Model;

namespace Hearth.Engine.Tests.Kernels;

public sealed unsafe class Half16Tests
{
    [Fact]
    public void Load8WidensEveryHalfValueExactly()
    {
        var all = new ushort[65536];
        for (var i = 0; i < all.Length; i++)
            all[i] = (ushort)i;
        fixed (ushort* p = all)
        {
            for (var i = 0; i < all.Length; i += 8)
            {
                var v = Half16.Load8(p + i);
                for (var k = 0; k < 8; k++)
                {
                    var expected = (float)BitConverter.UInt16BitsToHalf((ushort)(i + k));
                    var actual = v.GetElement(k);
                    if (float.IsNaN(expected))
                        Assert.True(float.IsNaN(actual), $"0x{i + k:X4}: expected NaN, got {actual}");
                    else
                        Assert.True(BitConverter.SingleToUInt32Bits(expected) == BitConverter.SingleToUInt32Bits(actual),
                            $"0x{i + k:X4}: expected {expected}, got {actual}");
                }
            }
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(16)]
    [InlineData(64)]
    [InlineData(128)]
    [InlineData(131)]
    public void HalfDotAndAxpyMatchScalarSums(int n)
    {
        var rng = new Random(n);
        var x = new float[n];
        var h = new ushort[n];
        var y = new float[n];
        for (var i = 0; i < n; i++)
        {
            x[i] = (float)(rng.NextDouble() * 2 - 1);
            h[i] = BitConverter.HalfToUInt16Bits((Half)(rng.NextDouble() * 4 - 2));
            y[i] = (float)(rng.NextDouble() * 2 - 1);
        }
        double dot = 0, scale = 0;
        for (var i = 0; i < n; i++)
        {
            dot += x[i] * (double)(float)BitConverter.UInt16BitsToHalf(h[i]);
            scale += Math.Abs(x[i] * (double)(float)BitConverter.UInt16BitsToHalf(h[i]));
        }
        var expectedY = new float[n];
        for (var i = 0; i < n; i++)
            expectedY[i] = MathF.FusedMultiplyAdd(0.75f, (float)BitConverter.UInt16BitsToHalf(h[i]), y[i]);
        fixed (float* xp = x)
        fixed (ushort* hp = h)
        fixed (float* yp = y)
        {
            Assert.InRange(Blocks.DotHalf(xp, hp, n), dot - 1e-6 * scale - 1e-6, dot + 1e-6 * scale + 1e-6);
            Blocks.AxpyHalf(0.75f, hp, yp, n);
        }
        Assert.Equal(expectedY, y);
    }
}
