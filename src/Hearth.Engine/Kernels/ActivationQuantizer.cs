using System.Runtime.CompilerServices;

namespace Hearth.Engine.Kernels;

/// <summary>
/// Converts float activation rows to the "vec-dot type" a weight type is multiplied with, exactly as
/// ggml's x86 CPU backend does (the values, not just the format, so logits agree with llama.cpp):
/// q8_0 and q8_1 use <c>q = round_half_even(x * 127/amax)</c> (AVX path), q8_K uses
/// <c>iscale = -127/max</c> on the signed extreme value, f16/bf16 round to nearest even.
/// Output is in ggml's block layout.
/// </summary>
internal static unsafe class ActivationQuantizer
{
    /// <summary>q8_0 block: fp16 d, 32 int8.</summary>
    public const int Q8_0BlockBytes = 34;

    /// <summary>q8_1 block: fp16 d, fp16 s (= d * sum q), 32 int8.</summary>
    public const int Q8_1BlockBytes = 36;

    /// <summary>q8_K block: float32 d, 256 int8, 16 int16 sums of 16.</summary>
    public const int Q8_KBlockBytes = 292;

    /// <summary>Bytes one row of <paramref name="n"/> activations takes in <paramref name="type"/>.</summary>
    public static int RowBytes(ActivationType type, int n) => type switch
    {
        ActivationType.F32 => n * 4,
        ActivationType.F16 or ActivationType.BF16 => n * 2,
        ActivationType.Q8_0 => n / 32 * Q8_0BlockBytes,
        ActivationType.Q8_1 => n / 32 * Q8_1BlockBytes,
        ActivationType.Q8_K => n / 256 * Q8_KBlockBytes,
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };

    /// <summary>Converts <paramref name="n"/> floats at <paramref name="x"/> into <paramref name="dst"/>.</summary>
    public static void Quantize(ActivationType type, float* x, byte* dst, int n)
    {
        switch (type)
        {
            case ActivationType.F32: Buffer.MemoryCopy(x, dst, (long)n * 4, (long)n * 4); break;
            case ActivationType.F16: ToF16(x, (ushort*)dst, n); break;
            case ActivationType.BF16: ToBF16(x, (ushort*)dst, n); break;
            case ActivationType.Q8_0: Q8_0(x, dst, n); break;
            case ActivationType.Q8_1: Q8_1(x, dst, n); break;
            case ActivationType.Q8_K: Q8_K(x, dst, n); break;
            default: throw new ArgumentOutOfRangeException(nameof(type));
        }
    }

    public static void ToF16(float* x, ushort* y, int n)
    {
        for (var i = 0; i < n; i++)
            y[i] = Half16.FromSingle(x[i]);
    }

    public static void ToBF16(float* x, ushort* y, int n)
    {
        for (var i = 0; i < n; i++)
            y[i] = Half16.BFloat16FromSingle(x[i]);
    }

    public static void Q8_0(float* x, byte* y, int n)
    {
        for (var b = 0; b < n / 32; b++, x += 32, y += Q8_0BlockBytes)
        {
            var amax = AbsMax32(x);
            var d = amax / 127f;
            var id = amax != 0f ? 127f / amax : 0f;
            *(ushort*)y = Half16.FromSingle(d);
            var q = (sbyte*)(y + 2);
            for (var j = 0; j < 32; j++)
                q[j] = (sbyte)(int)MathF.Round(x[j] * id);
        }
    }

    public static void Q8_1(float* x, byte* y, int n)
    {
        for (var b = 0; b < n / 32; b++, x += 32, y += Q8_1BlockBytes)
        {
            var amax = AbsMax32(x);
            var d = amax / 127f;
            var id = amax != 0f ? 127f / amax : 0f;
            *(ushort*)y = Half16.FromSingle(d);
            var q = (sbyte*)(y + 4);
            var sum = 0;
            for (var j = 0; j < 32; j++)
            {
                var v = (int)MathF.Round(x[j] * id);
                q[j] = (sbyte)v;
                sum += v;
            }
            *(ushort*)(y + 2) = Half16.FromSingle(d * sum);
        }
    }

    public static void Q8_K(float* x, byte* y, int n)
    {
        for (var b = 0; b < n / 256; b++, x += 256, y += Q8_KBlockBytes)
        {
            var q = (sbyte*)(y + 4);
            var sums = (short*)(y + 4 + 256);
            float max = 0, amax = 0;
            for (var j = 0; j < 256; j++)
            {
                var ax = MathF.Abs(x[j]);
                if (ax > amax)
                {
                    amax = ax;
                    max = x[j];
                }
            }
            if (amax == 0f)
            {
                *(float*)y = 0f;
                new Span<byte>(y + 4, 256 + 32).Clear();
                continue;
            }
            var iscale = -127f / max;
            for (var j = 0; j < 256; j++)
                q[j] = (sbyte)Math.Min(127, (int)MathF.Round(iscale * x[j]));
            for (var j = 0; j < 16; j++)
            {
                var s = 0;
                for (var i = 0; i < 16; i++)
                    s += q[j * 16 + i];
                sums[j] = (short)s;
            }
            *(float*)y = 1f / iscale;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float AbsMax32(float* x)
    {
        float amax = 0;
        for (var j = 0; j < 32; j++)
            amax = MathF.Max(amax, MathF.Abs(x[j]));
        return amax;
    }
}

/// <summary>The type an activation row is converted to before it meets a weight row (ggml's vec_dot_type).</summary>
internal enum ActivationType
{
    /// <summary>Plain float32.</summary>
    F32,
    /// <summary>IEEE half.</summary>
    F16,
    /// <summary>bfloat16.</summary>
    BF16,
    /// <summary>8-bit, blocks of 32, fp16 scale.</summary>
    Q8_0,
    /// <summary>8-bit, blocks of 32, fp16 scale and fp16 scaled sum.</summary>
    Q8_1,
    /// <summary>8-bit, blocks of 256, float scale and sums of 16.</summary>
    Q8_K,
}
