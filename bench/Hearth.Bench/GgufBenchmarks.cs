using BenchmarkDotNet.Attributes;
using Hearth.Gguf;
using Hearth.Tests.Shared;

namespace Hearth.Bench;

/// <summary>Opening a model (header parse over the mapping) and dequantizing rows, per block format.</summary>
[MemoryDiagnoser]
public class GgufBenchmarks
{
    private GgufFile _file = null!;
    private GgufTensorInfo _tensor = null!;
    private float[] _row = [];

    /// <summary>Fixture file whose ffn_down tensor is dequantized.</summary>
    [Params("llama-spm-F32.gguf", "llama-spm-Q8_0.gguf", "llama-spm-Q4_K_M.gguf", "llama-spm-Q6_K.gguf")]
    public string Model { get; set; } = "";

    [GlobalSetup]
    public void Setup()
    {
        _file = GgufFile.Open(Fixtures.File("llama-spm", Model));
        _tensor = _file.GetTensor("blk.1.ffn_down.weight");
        _row = new float[_tensor.ElementCount];
    }

    [GlobalCleanup]
    public void Cleanup() => _file.Dispose();

    /// <summary>Open and validate the 32000-token vocabulary model's header.</summary>
    [Benchmark]
    public int OpenModel()
    {
        using var f = GgufFile.Open(Fixtures.File("llama-spm", Model));
        return f.Tensors.Count;
    }

    /// <summary>Dequantize one whole tensor (64 x 256) to float32.</summary>
    [Benchmark]
    public float DequantizeTensor()
    {
        GgmlDequantize.Dequantize(_tensor.Type, _file.GetTensorData(_tensor), _row);
        return _row[0];
    }
}
