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
    private readonly ToolCallFormat _toolFormat;
    private readonly string _modelId;
    private readonly Dictionary<string, (LoraAdapter Adapter, float DefaultScale)> _adapters = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string, float), LoraSet> _adapterSets = new();

    private EngineChatClient(TransformerModel model, Tokenizer tokenizer, ChatTemplate? template, string modelId, int threads)
    {
        _model = model;
        _template = template;
        _toolFormat = ToolCalling.Detect(template?.Source);
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
        var (prompt, generation, tools) = Prepare(messages, options);
        var result = await Task.Run(() => _generator.Generate(prompt, generation, null, cancellationToken), cancellationToken);
        var (beside, calls) = tools is null ? ("", []) : tools.Read(result);
        // A required call's JSON cut short (token limit, a stop string) is no call, and not text the model chose to write.
        var message = calls.Count > 0
            ? new ChatMessage(ChatRole.Assistant, [.. beside.Length > 0 ? [new TextContent(beside)] : Array.Empty<AIContent>(), .. calls])
            : new ChatMessage(ChatRole.Assistant, tools is { Forced: true } ? "" : result.Text);
        return new ChatResponse(message)
        {
            ModelId = _modelId,
            FinishReason = calls.Count > 0 ? ChatFinishReason.ToolCalls : Finish(result.StopReason),
            Usage = Usage(result),
            CreatedAt = DateTimeOffset.UtcNow,
        };
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var (prompt, generation, tools) = Prepare(messages, options);
        var stream = new ToolCallStream(tools?.Format ?? ToolCallFormat.None, tools?.Forced ?? false);
        var channel = Channel.CreateUnbounded<ChatResponseUpdate>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var responseId = Guid.NewGuid().ToString("N");
        var producer = Task.Run(() =>
        {
            try
            {
                var result = _generator.Generate(prompt, generation, u =>
                {
                    if (stream.Push(u.Text) is { Length: > 0 } text)
                        channel.Writer.TryWrite(new ChatResponseUpdate(ChatRole.Assistant, text) { ResponseId = responseId, ModelId = _modelId });
                }, stop.Token);
                var calls = tools is null ? [] : tools.Read(result).Calls;
                // The text held back: all of it when there are no calls (none at all for a required call cut short),
                // what stands beside the calls when there are.
                var rest = tools is { Forced: true } ? "" : calls.Count == 0 ? stream.Rest() : stream.TextBesideCalls();
                if (rest.Length > 0)
                    channel.Writer.TryWrite(new ChatResponseUpdate(ChatRole.Assistant, rest) { ResponseId = responseId, ModelId = _modelId });
                channel.Writer.TryWrite(new ChatResponseUpdate
                {
                    Role = ChatRole.Assistant,
                    ResponseId = responseId,
                    ModelId = _modelId,
                    FinishReason = calls.Count > 0 ? ChatFinishReason.ToolCalls : Finish(result.StopReason),
                    Contents = [.. calls, new UsageContent(Usage(result))],
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

    /// <summary>
    /// Renders the messages with the model's chat template (with <paramref name="tools"/> offered, and
    /// <paramref name="prefix"/> after the generation prompt) and tokenizes the result.
    /// </summary>
    internal IReadOnlyList<int> BuildPrompt(IEnumerable<ChatMessage> messages, bool raw = false, List<object?>? tools = null, string prefix = "")
    {
        var tokenizer = _generator.Tokenizer;
        var list = messages.ToList();
        if (list.Count == 0)
            throw new ArgumentException("At least one message is required.", nameof(messages));
        string text;
        if (_template is null || raw)
        {
            text = string.Join("\n", list.Select(m => m.Text));
            return tokenizer.Encode(text, addSpecial: true, parseSpecial: false);
        }
        var bos = tokenizer.Bos >= 0 ? tokenizer.TokenText(tokenizer.Bos) : "";
        var eos = tokenizer.Eos >= 0 ? tokenizer.TokenText(tokenizer.Eos) : "";
        text = _template.Render(list.SelectMany(ToolCalling.MessagesForTemplate), addGenerationPrompt: true, bos, eos, tools) + prefix;
        // Templates usually write the BOS text themselves; do not add a second one.
        var addSpecial = bos.Length == 0 || !text.StartsWith(bos, StringComparison.Ordinal);
        return tokenizer.Encode(text, addSpecial, parseSpecial: true);
    }

    /// <summary>A turn on which functions are offered: how calls are written, and for a required call what was put
    /// in front of the answer and what closes it.</summary>
    private sealed record ToolTurn(ToolCallFormat Format, bool Forced, string Prefix, string Suffix)
    {
        private string Whole(GenerationResult r) =>
            Prefix + r.Text + (Forced && r.StopReason == StopReason.EndOfGeneration ? Suffix : "");

        /// <summary>The calls in the answer and the text beside them.</summary>
        public (string Text, List<FunctionCallContent> Calls) Read(GenerationResult r) => ToolCalling.Parse(Whole(r), Format);
    }

    // Functions offered this turn (ChatOptions.Tools, unless the mode is none), the calls' format, a required call.
    private (List<object?>? Tools, ToolTurn? Turn, string Prefix, JsonSchemaPlan? Schema) ToolsFor(ChatOptions? options, bool raw)
    {
        var functions = options?.Tools?.OfType<AIFunctionDeclaration>().ToList() ?? [];
        if (functions.Count == 0 && options?.ToolMode is RequiredChatToolMode)
            throw new ArgumentException("A tool call is required (ChatToolMode.RequireAny or a named function), but no functions are offered.", nameof(options));
        if (functions.Count == 0 || options!.ToolMode is NoneChatToolMode)
            return (null, null, "", null);
        if (raw || _toolFormat == ToolCallFormat.None)
            throw new ArgumentException($"Model '{_modelId}' does not support tools: {(raw ? "a raw prompt has no chat template" : "its chat template renders none")}.", nameof(options));
        if (options.ToolMode is not RequiredChatToolMode required)
            return (ToolCalling.ToolsForTemplate(functions), new ToolTurn(_toolFormat, false, "", ""), "", null);
        var candidates = required.RequiredFunctionName is { } name
            ? [functions.FirstOrDefault(f => f.Name == name) ?? throw new ArgumentException($"The required function '{name}' is not among the tools ({string.Join(", ", functions.Select(f => f.Name))}).", nameof(options))]
            : functions;
        try
        {
            var (prefix, schema, suffix) = ToolCalling.Forced(_toolFormat, candidates);
            return (ToolCalling.ToolsForTemplate(functions), new ToolTurn(_toolFormat, true, prefix, suffix), prefix, schema);
        }
        catch (ArgumentException ex)
        {
            throw new ArgumentException(ex.Message, nameof(options), ex);
        }
    }

    private (IReadOnlyList<int> Prompt, GenerationOptions Options, ToolTurn? Tools) Prepare(IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        var raw = options?.AdditionalProperties?.TryGetValue(EngineChatOptionKeys.RawPrompt, out var r) == true && r is true;
        var (tools, turn, prefix, callSchema) = ToolsFor(options, raw);
        IReadOnlyList<int> prompt;
        try
        {
            prompt = BuildPrompt(messages, raw, tools, prefix);
        }
        catch (ChatTemplateException ex)
        {
            // The template refused these messages (raise_exception: roles that do not alternate, no user turn, ...).
            throw new ArgumentException($"The model's chat template refused the messages: {ex.Message}", nameof(messages), ex);
        }
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
            JsonSchema = callSchema ?? SchemaFor(options?.ResponseFormat), // a required call is written as JSON of its own schema
        };
        generation.Validate();
        return (prompt, generation, turn);
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
