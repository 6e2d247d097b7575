using Hearth.Gguf;

namespace Hearth.Engine.Model;

/// <summary>
/// A loaded model: hyper-parameters, architecture and weight views over a memory-mapped GGUF file.
/// Loading reads the header and checks every tensor's shape; no weight byte is copied. Immutable and
/// safe to share; per-run state lives in <see cref="InferenceSession"/>.
/// </summary>
internal sealed class TransformerModel : IDisposable
{
    private readonly bool _ownsFile;
    private GgufFile[] _otherParts = []; // set once by Load, after binding succeeded

    private TransformerModel(GgufFile file, bool ownsFile, ModelArchitecture arch, ModelConfig config, ModelWeights weights)
    {
        File = file;
        _ownsFile = ownsFile;
        Architecture = arch;
        Config = config;
        Weights = weights;
    }

    /// <summary>The mapped file (of a split model, the first part: it holds the metadata).</summary>
    public GgufFile File { get; }

    /// <summary>Every mapped file: <see cref="File"/>, then a split model's other parts in order.</summary>
    public IReadOnlyList<GgufFile> Parts => [File, .. _otherParts];

    /// <summary>Bytes of all tensors in all parts.</summary>
    public long TensorBytes => Parts.Sum(p => p.Tensors.Sum(t => t.ByteSize));

    /// <summary>Architecture-specific behaviour.</summary>
    public ModelArchitecture Architecture { get; }

    /// <summary>Hyper-parameters.</summary>
    public ModelConfig Config { get; }

    /// <summary>Weight views.</summary>
    public ModelWeights Weights { get; }

    /// <summary>Opens and binds <paramref name="path"/>.</summary>
    public static TransformerModel Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var file = GgufFile.Open(path);
        try
        {
            return Load(file, ownsFile: true);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Binds an open file; when <paramref name="ownsFile"/> the model disposes it.</summary>
    public static TransformerModel Load(GgufFile file, bool ownsFile)
    {
        ArgumentNullException.ThrowIfNull(file);
        var source = file.Path ?? "model";
        // A split model's other parts are opened here and owned by the model (disposed with it, or now on failure).
        using var otherParts = SplitParts.OpenRest(file);
        var model = Bind(file, ownsFile, otherParts.Files, ModelArchitecture.For(file.Metadata.Architecture, source), source);
        model._otherParts = otherParts.Release();
        return model;
    }

    private static TransformerModel Bind(GgufFile file, bool ownsFile, IReadOnlyList<GgufFile> otherParts, ModelArchitecture arch, string source)
    {
        var b = new TensorBinder(file, source, otherParts);
        if (!b.TryFind("token_embd.weight", out var embd, out _))
            throw new ModelLoadException($"{source}: tensor 'token_embd.weight' is missing.");
        if (embd.Dimensions.Count != 2)
            throw new ModelLoadException($"{source}: tensor 'token_embd.weight' has shape {embd.ShapeText}; expected [n_embd, n_vocab].");
        var config = arch.ReadConfig(file.Metadata, source, checked((int)embd.Dimensions[1]));
        var layers = new LayerWeights[config.LayerCount];
        for (var i = 0; i < layers.Length; i++)
            layers[i] = arch.BindLayer(b, config, i);
        var tokenEmbedding = b.Matrix("token_embd.weight", config.EmbeddingLength, config.VocabSize);
        unsafe
        {
            var weights = new ModelWeights
            {
                TokenEmbedding = tokenEmbedding,
                Layers = layers,
                OutputNorm = b.Vector("output_norm.weight", config.EmbeddingLength),
                Output = b.OptionalMatrix("output.weight", config.EmbeddingLength, config.VocabSize) ?? tokenEmbedding,
                RopeFrequencyFactors = b.OptionalVector("rope_freqs.weight", config.RopeDimensionCount / 2),
            };
            return new TransformerModel(file, ownsFile, arch, config, weights);
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var p in _otherParts)
            p.Dispose();
        if (_ownsFile)
            File.Dispose();
    }
}
