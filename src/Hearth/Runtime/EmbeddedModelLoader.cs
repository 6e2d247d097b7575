using Hearth.Engine.Generation;
using Hearth.Gguf;
using Hearth.Store;
using Microsoft.Extensions.AI;

namespace Hearth.Runtime;

/// <summary>
/// Loads models for the embedded engine: a name resolves through the store (never downloading: that is
/// <c>hearth pull</c>'s job), or a path names a GGUF file directly. Memory is estimated from the GGUF header alone.
/// </summary>
internal sealed class EmbeddedModelLoader(ModelStore? store, int threads = 0) : IModelLoader
{
    /// <summary>Context the estimate assumes for the KV cache (the engine's default cap).</summary>
    public const int EstimateContext = 4096;

    public ModelPlan Plan(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        string path;
        string? digest = null;
        if (name.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase) || Path.IsPathRooted(name))
        {
            if (!File.Exists(name))
                throw new ModelUnavailableException($"model file not found: {Path.GetFullPath(name)}");
            path = Path.GetFullPath(name);
        }
        else
        {
            try
            {
                if (store is null || !store.TryResolve(name, out path))
                    throw new ModelUnavailableException($"model '{name}' is not in the store{(store is null ? "" : " (" + store.Root + ")")}; download it first with: {ModelPuller.SuggestPullCommand(name)}");
            }
            catch (ModelStoreException ex)
            {
                throw new ModelUnavailableException(ex.Message, ex);
            }

            digest = store.Find(name)?.Manifest.ModelLayers.FirstOrDefault()?.Digest;
            store.MarkUsed(name);
        }

        try
        {
            using var file = GgufFile.Open(path);
            return new ModelPlan(name, path, Estimate(file), digest);
        }
        catch (GgufFormatException ex)
        {
            throw new ModelUnavailableException($"model '{name}' ({path}) is not a valid GGUF file: {ex.Message}", ex);
        }
    }

    public IChatClient Load(ModelPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        return EngineChatClient.Open(plan.Path, new EngineOptions { Threads = threads });
    }

    /// <summary>Weights (mapped, resident once touched) + an F32 KV cache for <see cref="EstimateContext"/>
    /// positions + activation buffers for a 512-token batch and the logits.</summary>
    internal static long Estimate(GgufFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        var md = file.Metadata;
        long weights = file.Tensors.Sum(t => t.ByteSize);
        var layers = md.BlockCount ?? 0;
        var ctx = Math.Min(md.ContextLength ?? EstimateContext, EstimateContext);
        var kvHeads = md.HeadCountKv ?? 0;
        var kv = layers * ctx * kvHeads * ((md.KeyLength ?? 0) + (md.ValueLength ?? 0)) * sizeof(float);
        var embd = md.EmbeddingLength ?? 0;
        var ff = md.FeedForwardLength ?? 0;
        var vocab = md.Tokens?.Count ?? 0;
        var buffers = 512L * (4 * embd + 2 * ff) * sizeof(float) + (long)vocab * sizeof(float);
        return weights + kv + buffers;
    }
}
