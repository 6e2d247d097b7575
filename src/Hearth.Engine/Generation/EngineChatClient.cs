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
}

/// <summary>Keys <see cref="EngineChatClient"/> reads from <see cref="ChatOptions.AdditionalProperties"/>.</summary>
public static class EngineChatOptionKeys
{
    /// <summary><c>true</c>: the messages' text is the prompt as is (a completion), no chat template applied.</summary>
    public const string RawPrompt = "hearth.raw_prompt";
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
            return new EngineChatClient(model, tokenizer, template, id, options?.Threads ?? 0);
        }
        catch
        {
            model.Dispose();
            throw;
        }
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

    /// <summary>Unmaps the model.</summary>
    public void Dispose() => _model.Dispose();

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
        var generation = new GenerationOptions
        {
            MaxTokens = options?.MaxOutputTokens ?? 512,
            Sampling = sampling,
            StopStrings = options?.StopSequences is { } stops ? [.. stops] : [],
        };
        generation.Validate();
        return (prompt, generation);
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
