using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Hearth.Engine.Model;
using Hearth.Engine.Sampling;
using Hearth.Engine.Templates;
using Hearth.Engine.Tokenization;
using Microsoft.Extensions.AI;

namespace Hearth.Engine.Generation;

/// <summary>Options for opening a model in the embedded engine.</summary>
public sealed record EngineOptions
{
    /// <summary>Threads per matrix product, the caller included; 0 = physical cores.</summary>
    public int Threads { get; init; }

    /// <summary>Standalone LoRA adapter files (llama.cpp's GGUF LoRA format) to make available by name, in addition to
    /// the domain adapters a Hearth bundle carries. A request picks one with <see cref="EngineChatOptionKeys.Adapter"/>.</summary>
    public IReadOnlyDictionary<string, string>? AdapterFiles { get; init; }
}

/// <summary>Keys <see cref="EngineChatClient"/> reads from <see cref="ChatOptions.AdditionalProperties"/>.</summary>
public static class EngineChatOptionKeys
{
    /// <summary><c>true</c>: the messages' text is the prompt as is (a completion), no chat template applied.</summary>
    public const string RawPrompt = "hearth.raw_prompt";

    /// <summary>Name of the LoRA adapter to apply to this request (a bundle's domain, or a name from
    /// <see cref="EngineOptions.AdapterFiles"/>); absent or empty: the base model. Switching adapters needs no reload.</summary>
    public const string Adapter = "hearth.adapter";

    /// <summary>User scale of <see cref="Adapter"/> (a number; default: the bundle's scale for that domain, else 1).</summary>
    public const string AdapterScale = "hearth.adapter_scale";

    /// <summary>
    /// An <see cref="IReadOnlyDictionary{TKey, TValue}"/> of token id to a bias added to its logit before sampling
    /// (OpenAI's <c>logit_bias</c>; negative infinity bans the token).
    /// </summary>
    public const string LogitBias = "hearth.logit_bias";
}

/// <summary>
/// The embedded engine as an <see cref="IChatClient"/>: a GGUF model file run in-process, in pure C#.
/// Applies the model's chat template (or, for a model without one, joins the message texts), streams
/// <see cref="ChatResponseUpdate"/>s, reports token usage, and throws <see cref="OperationCanceledException"/>
/// when cancelled. The weights are mapped once and shared; every call has its own session, so concurrent
/// callers are safe.
/// </summary>
public sealed class EngineChatClient : IChatClient
{
    private readonly TransformerModel _model;
    private readonly TextGenerator _generator;
    private readonly ChatTemplate? _template;
    private readonly string _modelId;
    private readonly Dictionary<string, (LoraAdapter Adapter, float DefaultScale)> _adapters = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string, float), LoraSet> _adapterSets = new();

    private EngineChatClient(TransformerModel model, Tokenizer tokenizer, ChatTemplate? template, string modelId, int threads)
    {
        _model = model;
        _template = template;
        _modelId = modelId;
        _generator = new TextGenerator(model, tokenizer, threads);
        Metadata = new ChatClientMetadata("hearth-embedded", defaultModelId: modelId);
    }

    /// <summary>Describes this client.</summary>
    public ChatClientMetadata Metadata { get; }

    internal TextGenerator Generator => _generator;

    /// <summary>Opens a GGUF model file. Errors name the file and the problem (format, missing tensor, unsupported architecture).</summary>
    public static EngineChatClient Open(string path, EngineOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var model = TransformerModel.Load(path);
        try
        {
            var tokenizer = Tokenizer.FromGguf(model.File);
            var template = ChatTemplate.FromGguf(model.File);
            var id = model.File.Metadata.Name ?? Path.GetFileNameWithoutExtension(path);
            var client = new EngineChatClient(model, tokenizer, template, id, options?.Threads ?? 0);
            try
            {
                client.LoadAdapters(path, options?.AdapterFiles);
            }
            catch
            {
                client.DisposeAdapters();
                throw;
            }
            return client;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>The LoRA adapters requests can select (a bundle's domains, then <see cref="EngineOptions.AdapterFiles"/>).</summary>
    public IReadOnlyList<string> AdapterNames => [.. _adapters.Keys];

    private void LoadAdapters(string path, IReadOnlyDictionary<string, string>? files)
    {
        var meta = _model.File.Metadata;
        foreach (var domain in BundleFormat.Domains(_model.File))
        {
            if (!BundleFormat.HasAdapter(_model.File, domain))
                continue; // a domain the base model answers as it is
            var alpha = meta.GetSingle(BundleFormat.DomainKey(domain, "alpha")) ?? 0f;
            var scale = meta.GetSingle(BundleFormat.DomainKey(domain, "scale")) ?? 1f;
            try
            {
                _adapters[domain] = (LoraAdapter.FromModelFile(_model, domain, BundleFormat.TensorPrefix(domain), alpha), scale);
            }
            catch (ModelLoadException e)
            {
                throw new ModelLoadException($"{path}: {e.Message}");
            }
        }
        foreach (var (name, file) in files ?? new Dictionary<string, string>())
        {
            if (_adapters.ContainsKey(name))
                throw new ArgumentException($"Adapter name '{name}' is used twice (the bundle already has a domain adapter of that name).", nameof(files));
            _adapters[name] = (LoraAdapter.Open(file, _model, name), 1f);
        }
    }

    private void DisposeAdapters()
    {
        foreach (var (adapter, _) in _adapters.Values)
            adapter.Dispose();
        _adapters.Clear();
    }

    private LoraSet? AdaptersFor(ChatOptions? options)
    {
        var props = options?.AdditionalProperties;
        if (props is null || !props.TryGetValue(EngineChatOptionKeys.Adapter, out var value) || value is null)
            return null;
        var name = value as string ?? throw new ArgumentException($"'{EngineChatOptionKeys.Adapter}' must be a string (an adapter name).", nameof(options));
        if (name.Length == 0)
            return null;
        if (!_adapters.TryGetValue(name, out var entry))
        {
            var known = _adapters.Count == 0 ? "this model has none" : "available: " + string.Join(", ", _adapters.Keys);
            throw new ArgumentException($"Unknown LoRA adapter '{name}' for model '{_modelId}' ({known}).", nameof(options));
        }
        var scale = entry.DefaultScale;
        if (props.TryGetValue(EngineChatOptionKeys.AdapterScale, out var s) && s is not null)
        {
            scale = s switch
            {
                float f => f,
                double d => (float)d,
                int i => i,
                string text when float.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var parsed) => parsed,
                _ => throw new ArgumentException($"'{EngineChatOptionKeys.AdapterScale}' must be a number.", nameof(options)),
            };
            if (!float.IsFinite(scale))
                throw new ArgumentException($"'{EngineChatOptionKeys.AdapterScale}' must be finite.", nameof(options));
        }
        return _adapterSets.GetOrAdd((name, scale), key => new LoraSet([(_adapters[key.Item1].Adapter, key.Item2)]));
    }

    /// <inheritdoc />
    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var (prompt, generation) = Prepare(messages, options);
        var result = await Task.Run(() => _generator.Generate(prompt, generation, null, cancellationToken), cancellationToken);
        return new ChatResponse(new ChatMessage(ChatRole.Assistant, result.Text))
        {
            ModelId = _modelId,
            FinishReason = Finish(result.StopReason),
            Usage = Usage(result),
            CreatedAt = DateTimeOffset.UtcNow,
        };
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var (prompt, generation) = Prepare(messages, options);
        var channel = Channel.CreateUnbounded<ChatResponseUpdate>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var responseId = Guid.NewGuid().ToString("N");
        var producer = Task.Run(() =>
        {
            try
            {
                var result = _generator.Generate(prompt, generation, u =>
                {
                    if (u.Text.Length > 0)
                        channel.Writer.TryWrite(new ChatResponseUpdate(ChatRole.Assistant, u.Text) { ResponseId = responseId, ModelId = _modelId });
                }, stop.Token);
                channel.Writer.TryWrite(new ChatResponseUpdate
                {
                    Role = ChatRole.Assistant,
                    ResponseId = responseId,
                    ModelId = _modelId,
                    FinishReason = Finish(result.StopReason),
                    Contents = [new UsageContent(Usage(result))],
                });
                channel.Writer.TryComplete();
            }
            catch (Exception ex)
            {
                channel.Writer.TryComplete(ex);
            }
        }, CancellationToken.None);

        try
        {
            await foreach (var update in channel.Reader.ReadAllAsync(CancellationToken.None))
                yield return update;
        }
        finally
        {
            // A consumer that stops reading (or is cancelled) ends the generation and frees its session.
            await stop.CancelAsync();
            await producer;
        }
        cancellationToken.ThrowIfCancellationRequested();
    }

    /// <inheritdoc />
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null)
            return null;
        if (serviceType == typeof(ChatClientMetadata))
            return Metadata;
        return serviceType.IsInstanceOfType(this) ? this : null;
    }

    /// <summary>Unmaps the model and any adapter files.</summary>
    public void Dispose()
    {
        DisposeAdapters();
        _model.Dispose();
    }

    /// <summary>Renders the messages with the model's chat template and tokenizes the result.</summary>
    internal IReadOnlyList<int> BuildPrompt(IEnumerable<ChatMessage> messages, bool raw = false)
    {
        var tokenizer = _generator.Tokenizer;
        var list = messages.Select(m => (Role: m.Role.Value, Content: m.Text)).ToList();
        if (list.Count == 0)
            throw new ArgumentException("At least one message is required.", nameof(messages));
        string text;
        if (_template is null || raw)
        {
            text = string.Join("\n", list.Select(m => m.Content));
            return tokenizer.Encode(text, addSpecial: true, parseSpecial: false);
        }
        var bos = tokenizer.Bos >= 0 ? tokenizer.TokenText(tokenizer.Bos) : "";
        var eos = tokenizer.Eos >= 0 ? tokenizer.TokenText(tokenizer.Eos) : "";
        text = _template.Render(list, addGenerationPrompt: true, bos, eos);
        // Templates usually write the BOS text themselves; do not add a second one.
        var addSpecial = bos.Length == 0 || !text.StartsWith(bos, StringComparison.Ordinal);
        return tokenizer.Encode(text, addSpecial, parseSpecial: true);
    }

    private (IReadOnlyList<int> Prompt, GenerationOptions Options) Prepare(IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        var raw = options?.AdditionalProperties?.TryGetValue(EngineChatOptionKeys.RawPrompt, out var r) == true && r is true;
        var prompt = BuildPrompt(messages, raw);
        var sampling = options?.Temperature is 0f
            ? SamplingOptions.Greedy
            : new SamplingOptions
            {
                Temperature = options?.Temperature ?? new SamplingOptions().Temperature,
                TopK = options?.TopK ?? new SamplingOptions().TopK,
                TopP = options?.TopP ?? new SamplingOptions().TopP,
                FrequencyPenalty = options?.FrequencyPenalty ?? 0,
                PresencePenalty = options?.PresencePenalty ?? 0,
                Seed = options?.Seed is { } s ? unchecked((ulong)s) : null,
            };
        if (options?.AdditionalProperties?.TryGetValue(EngineChatOptionKeys.LogitBias, out var bias) == true && bias is not null)
        {
            sampling = sampling with
            {
                LogitBias = bias as IReadOnlyDictionary<int, float>
                    ?? throw new ArgumentException($"'{EngineChatOptionKeys.LogitBias}' must be an IReadOnlyDictionary<int, float> of token id to bias.", nameof(options)),
            };
        }
        var generation = new GenerationOptions
        {
            MaxTokens = options?.MaxOutputTokens ?? 512,
            Sampling = sampling,
            StopStrings = options?.StopSequences is { } stops ? [.. stops] : [],
            Adapters = AdaptersFor(options),
            Json = options?.ResponseFormat is ChatResponseFormatJson,
            JsonSchema = SchemaFor(options?.ResponseFormat),
        };
        generation.Validate();
        return (prompt, generation);
    }

    // ChatResponseFormat.Json: one JSON object (JSON mode); with a schema, one that matches it (JsonSchemaPlan says
    // which keywords are enforced; a schema using others is refused rather than answered with JSON that may not match).
    private static JsonSchemaPlan? SchemaFor(ChatResponseFormat? format)
    {
        switch (format)
        {
            case null or ChatResponseFormatText or ChatResponseFormatJson { Schema: null }:
                return null;
            case ChatResponseFormatJson json:
                try
                {
                    return JsonSchemaPlan.Compile(json.Schema.Value);
                }
                catch (ArgumentException ex)
                {
                    throw new ArgumentException($"Response format{(json.SchemaName is { } name ? $" '{name}'" : "")}: {ex.Message}", nameof(format), ex);
                }
            default:
                throw new ArgumentException($"Response format {format.GetType().Name} is not supported by the embedded engine.", nameof(format));
        }
    }

    private static ChatFinishReason Finish(StopReason reason) =>
        reason is StopReason.Length or StopReason.ContextFull ? ChatFinishReason.Length : ChatFinishReason.Stop;

    private static UsageDetails Usage(GenerationResult r) => new()
    {
        InputTokenCount = r.PromptTokens.Count,
        OutputTokenCount = r.Tokens.Count,
        TotalTokenCount = r.PromptTokens.Count + r.Tokens.Count,
    };
}
