using System.Runtime.Intrinsics;
using Hearth.Engine.Kernels;

namespace Hearth.Engine.Model;

/// <summary>
/// Shared building blocks of the forward pass, in float32 and in ggml's order of operations
/// (RMSNorm sums squares in double, then scales and multiplies by the weight as two float steps).
/// </summary>
internal static unsafe class Blocks
{
    /// <summary>y = x / sqrt(mean(x²) + eps) · w. <paramref name="y"/> may equal <paramref name="x"/>.</summary>
    public static void RmsNorm(float* x, float* w, float* y, int n, float eps)
    {
        double sum = 0;
        for (var i = 0; i < n; i++)
            sum += x[i] * x[i];
        var mean = (float)(sum / n);
        var scale = 1f / MathF.Sqrt(mean + eps);
        for (var i = 0; i < n; i++)
            y[i] = x[i] * scale * w[i];
    }

    /// <summary>x += y.</summary>
    public static void AddInPlace(float* x, float* y, int n)
    {
        var i = 0;
        for (; i + Vector256<float>.Count <= n; i += Vector256<float>.Count)
            (Vector256.Load(x + i) + Vector256.Load(y + i)).Store(x + i);
        for (; i < n; i++)
            x[i] += y[i];
    }

    /// <summary>gate = silu(gate) · up, with ggml's silu x / (1 + e^-x).</summary>
    public static void SwiGlu(float* gate, float* up, int n)
    {
        for (var i = 0; i < n; i++)
        {
            var g = gate[i];
            gate[i] = g / (1f + MathF.Exp(-g)) * up[i];
        }
    }

    /// <summary>Softmax of <paramref name="n"/> values in place (max-shifted; sum in double like ggml).</summary>
    public static void Softmax(float* x, int n)
    {
        var max = float.NegativeInfinity;
        for (var i = 0; i < n; i++)
            max = MathF.Max(max, x[i]);
        double sum = 0;
        for (var i = 0; i < n; i++)
        {
            var e = MathF.Exp(x[i] - max);
            x[i] = e;
            sum += e;
        }
        var inv = (float)(1.0 / sum);
        for (var i = 0; i < n; i++)
            x[i] *= inv;
    }

    /// <summary>y += a · x.</summary>
    public static void Axpy(float a, float* x, float* y, int n)
    {
        var i = 0;
        var va = Vector256.Create(a);
        for (; i + Vector256<float>.Count <= n; i += Vector256<float>.Count)
            Vector256.FusedMultiplyAdd(va, Vector256.Load(x + i), Vector256.Load(y + i)).Store(y + i);
        for (; i < n; i++)
            y[i] = MathF.FusedMultiplyAdd(a, x[i], y[i]);
    }

    /// <summary>y += a · x with x in fp16.</summary>
    public static void AxpyHalf(float a, ushort* x, float* y, int n)
    {
        var i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var va = Vector256.Create(a);
            for (; i + 8 <= n; i += 8)
                Vector256.FusedMultiplyAdd(va, Half16.Load8(x + i), Vector256.Load(y + i)).Store(y + i);
        }
        for (; i < n; i++)
            y[i] = MathF.FusedMultiplyAdd(a, Half16.ToSingle(x[i]), y[i]);
    }

    /// <summary>Dot product of float32 vectors.</summary>
    public static float Dot(float* x, float* y, int n) => DotAvx2.IsSupported
        ? DotAvx2.F32((byte*)x, (byte*)y, n)
        : DotReference.F32((byte*)x, (byte*)y, n);

    /// <summary>Dot product of a float32 vector with an fp16 one.</summary>
    public static float DotHalf(float* x, ushort* y, int n)
    {
        var i = 0;
        float sum = 0;
        if (Vector256.IsHardwareAccelerated && n >= 16)
        {
            Vector256<float> s0 = default, s1 = default;
            for (; i + 16 <= n; i += 16)
            {
                s0 = Vector256.FusedMultiplyAdd(Vector256.Load(x + i), Half16.Load8(y + i), s0);
                s1 = Vector256.FusedMultiplyAdd(Vector256.Load(x + i + 8), Half16.Load8(y + i + 8), s1);
            }
            sum = Vector256.Sum(s0 + s1);
        }
        for (; i < n; i++)
            sum = MathF.FusedMultiplyAdd(x[i], Half16.ToSingle(y[i]), sum);
        return sum;
    }

    /// <summary>
    /// Fills RoPE cos/sin tables for positions [0, <paramref name="positions"/>): entry [p, i] for pair i.
    /// Angles as ggml computes them: theta_0 = p · freq_scale, theta_{i+1} = theta_i · base^(-2/d) in float32,
    /// divided by the frequency factor of pair i when given.
    /// </summary>
    public static void RopeTables(float* cos, float* sin, int positions, int dims, float freqBase, float freqScale, float* factors)
    {
        var half = dims / 2;
        var thetaScale = MathF.Pow(freqBase, -2f / dims);
        for (var p = 0; p < positions; p++)
        {
            var theta = (float)p;
            for (var i = 0; i < half; i++)
            {
                var ff = factors != null ? factors[i] : 1f;
                var angle = freqScale * (theta / ff);
                cos[p * half + i] = MathF.Cos(angle);
                sin[p * half + i] = MathF.Sin(angle);
                theta *= thetaScale;
            }
        }
    }

    /// <summary>Rotates the first <paramref name="dims"/> values of each of <paramref name="heads"/> heads of size <paramref name="headSize"/>.</summary>
    public static void Rope(float* x, int heads, int headSize, int dims, float* cos, float* sin, RopeStyle style)
    {
        var half = dims / 2;
        for (var h = 0; h < heads; h++)
        {
            var v = x + h * headSize;
            if (style == RopeStyle.Normal)
            {
                for (var i = 0; i < half; i++)
                {
                    float x0 = v[2 * i], x1 = v[2 * i + 1];
                    v[2 * i] = x0 * cos[i] - x1 * sin[i];
                    v[2 * i + 1] = x0 * sin[i] + x1 * cos[i];
                }
            }
            else
            {
                for (var i = 0; i < half; i++)
                {
                    float x0 = v[i], x1 = v[i + half];
                    v[i] = x0 * cos[i] - x1 * sin[i];
                    v[i + half] = x0 * sin[i] + x1 * cos[i];
                }
            }
        }
    }
}
