namespace Hearth.Engine.Model;

/// <summary>
/// <c>llama</c>: Llama 2/3.x, TinyLlama, SmolLM, Mistral. RMSNorm, RoPE on adjacent pairs (with
/// <c>rope_freqs.weight</c> divisors for Llama 3.1 scaling when present), GQA, SwiGLU; output tied to
/// the embeddings when <c>output.weight</c> is absent. No extra tensors per layer.
/// </summary>
internal sealed class LlamaArchitecture : ModelArchitecture
{
    public static readonly LlamaArchitecture Instance = new();

    /// <inheritdoc />
    public override string Name => "llama";

    /// <inheritdoc />
    public override RopeStyle Rope => RopeStyle.Normal;
}
