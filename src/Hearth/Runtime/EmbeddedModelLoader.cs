using Hearth.Configuration;
using Hearth.Engine.Generation;
using Hearth.Engine.Model;
using Hearth.Gguf;
using Hearth.Store;
using Microsoft.Extensions.AI;

namespace Hearth.Runtime;

/// <summary>
/// Loads models for the embedded engine: a name resolves through the store (never downloading: that is
/// <c>hearth pull</c>'s job), or a path names a GGUF file directly. Memory is estimated from the GGUF header alone.
/// <paramref name="adapterFiles"/> maps a model name to the LoRA adapter files (name → path) loaded with it, which
/// requests then select per domain without a reload.
/// </summary>
internal sealed class EmbeddedModelLoader(ModelStore? store, int threads = 0, IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>>? adapterFiles = null) : IModelLoader
{
    /// <summary>The adapter files each model is loaded with: every domain's <c>adapter</c> that names a GGUF file,
    /// under the domain's model (or <c>models.default</c>), resolved against the configuration file's folder.</summary>
    public static IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> AdapterFilesFrom(HearthConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var dir = config.SourcePath is { } p ? Path.GetDirectoryName(Path.GetFullPath(p)) ?? "." : Directory.GetCurrentDirectory();
        var result = new Dictionary<string, IReadOnlyDictionary<string, string>>(StringComparer.Ordinal);
        foreach (var (name, domain) in config.Domains)
        {
            if (domain.Adapter is not { } adapter || !IsFile(adapter) || (domain.Model ?? config.Models.Default) is not { } model)
                continue;
            if (!result.TryGetValue(model, out var files))
                result[model] = files = new Dictionary<string, string>(StringComparer.Ordinal);
            ((Dictionary<string, string>)files)[adapter] = Path.GetFullPath(Path.Combine(dir, adapter));
        }
        return result;
    }

    /// <summary>Whether an adapter reference names a GGUF file (else it names a bundle's domain adapter).</summary>
    public static bool IsFile(string adapter) => adapter.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase) || Path.IsPathRooted(adapter);

    /// <summary>Context the estimate assumes for the KV cache (the engine's default cap).</summary>
    public const int EstimateContext = 4096;

    /// <summary>Prefix of a model-host name that loads the model as an embedding model (<see cref="EngineEmbeddingGenerator"/>).</summary>
    public const string EmbeddingPrefix = "embedding:";

    public ModelPlan Plan(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (name.StartsWith(EmbeddingPrefix, StringComparison.Ordinal))
            return Plan(name[EmbeddingPrefix.Length..]) with { Name = name };
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
            // A split model's other parts count towards its memory too (their tensors; the metadata is in the first).
            using var rest = SplitParts.OpenRest(file);
            return new ModelPlan(name, path, Estimate(file) + rest.TensorBytes, digest);
        }
        catch (GgufFormatException ex)
        {
            throw new ModelUnavailableException($"model '{name}' ({path}) is not a valid GGUF file: {ex.Message}", ex);
        }
        catch (ModelLoadException ex)
        {
            throw new ModelUnavailableException($"model '{name}': {ex.Message}", ex);
        }
    }

    public IChatClient Load(ModelPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        if (plan.Name.StartsWith(EmbeddingPrefix, StringComparison.Ordinal))
            return new EmbeddingModelClient(EngineEmbeddingGenerator.Open(plan.Path, new EngineEmbeddingOptions { Threads = threads }));
        IReadOnlyDictionary<string, string>? files = null;
        if (adapterFiles?.TryGetValue(plan.Name, out files) == true)
        {
            foreach (var (name, path) in files)
            {
                if (!File.Exists(path))
                    throw new ModelUnavailableException($"LoRA adapter '{name}' for model '{plan.Name}' not found: {path}");
            }
        }
        try
        {
            return EngineChatClient.Open(plan.Path, new EngineOptions { Threads = threads, AdapterFiles = files });
        }
        catch (Hearth.Engine.Model.ModelLoadException ex) when (files is { Count: > 0 })
        {
            throw new ModelUnavailableException($"model '{plan.Name}' with its domain adapters ({string.Join(", ", files.Keys)}): {ex.Message}", ex);
        }
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

/// <summary>
/// An embedding model held by the model host (so it counts against the memory budget, follows keep_alive, shows in
/// <c>ps</c> and is never unmapped while a call uses it). The host holds chat clients; this one only answers
/// <see cref="IChatClient.GetService"/> for its <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/>.
/// </summary>
internal sealed class EmbeddingModelClient(EngineEmbeddingGenerator generator) : IChatClient
{
    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        => throw new ModelUnavailableException($"'{generator.Metadata.DefaultModelId}' is loaded as an embedding model (embedding:NAME); it does not chat");

    public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        => throw new ModelUnavailableException($"'{generator.Metadata.DefaultModelId}' is loaded as an embedding model (embedding:NAME); it does not chat");

    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return serviceKey is null && serviceType.IsInstanceOfType(generator) ? generator : null;
    }

    public void Dispose() => generator.Dispose();
}
