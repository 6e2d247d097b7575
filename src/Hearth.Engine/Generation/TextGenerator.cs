using System.Diagnostics;
using System.Text;
using Hearth.Engine.Model;
using Hearth.Engine.Sampling;
using Hearth.Engine.Tokenization;

namespace Hearth.Engine.Generation;

/// <summary>
/// The generation loop over a shared model: evaluate the prompt in batches, then sample one token at a time,
/// streaming text that is final (complete UTF-8, not possibly the start of a stop string). All per-request
/// state (session, sampler, decoder, history) lives in the call, so concurrent callers never share it.
/// </summary>
internal sealed class TextGenerator(TransformerModel model, Tokenizer tokenizer, int threads = 0)
{
    public TransformerModel Model { get; } = model;

    public Tokenizer Tokenizer { get; } = tokenizer;

    /// <summary>
    /// Streams a generation for <paramref name="promptTokens"/>; <paramref name="onUpdate"/> receives each final piece of text.
    /// Cancellation throws <see cref="OperationCanceledException"/>.
    /// </summary>
    public GenerationResult Generate(IReadOnlyList<int> promptTokens, GenerationOptions options, Action<GenerationUpdate>? onUpdate = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(promptTokens);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (promptTokens.Count == 0)
            throw new ArgumentException("The prompt has no tokens.", nameof(promptTokens));
        cancellationToken.ThrowIfCancellationRequested();

        var contextLength = Math.Min(Model.Config.ContextLength, Math.Max(promptTokens.Count + options.MaxTokens, 1));
        if (promptTokens.Count >= Model.Config.ContextLength)
            throw new ArgumentException($"The prompt is {promptTokens.Count} tokens; the model's context holds {Model.Config.ContextLength}.", nameof(promptTokens));
        using var session = new InferenceSession(Model, new SessionOptions { ContextLength = contextLength, Threads = threads, Adapters = options.Adapters });
        var sampler = new Sampler(options.Sampling, Model.Config.VocabSize);
        var decoder = Tokenizer.CreateDecoder(options.RenderSpecialTokens);
        var history = new List<int>(promptTokens.Count + options.MaxTokens);
        history.AddRange(promptTokens);
        var generated = new List<int>(options.MaxTokens);
        var text = new StringBuilder();
        var emitted = 0; // characters of `text` already handed to onUpdate
        var holdBack = options.StopStrings.Count == 0 ? 0 : options.StopStrings.Max(s => s.Length) - 1;

        var sw = Stopwatch.StartNew();
        var prompt = promptTokens as int[] ?? [.. promptTokens];
        var logits = session.Evaluate(prompt);
        var promptTime = sw.Elapsed;
        sw.Restart();

        var reason = StopReason.Length;
        var single = new int[1];
        var json = options.Json || options.JsonSchema is not null ? new JsonConstraint(options.JsonSchema) : null;
        var masked = json is null ? null : new float[logits.Length];
        while (generated.Count < options.MaxTokens)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var token = sampler.Sample(logits, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(history));
            if (json is not null && !JsonAllows(json, token, options.RenderSpecialTokens))
            {
                // Sampling first and masking only when the choice is refused skips the vocabulary scan most steps; the
                // refused draw is redrawn from the allowed tokens alone (exactly the masked distribution when no top-k,
                // top-p or min-p cut applies; with them, llama.cpp's same sample-then-resample).
                MaskForJson(json, logits, masked!, options.RenderSpecialTokens);
                token = sampler.Sample(masked, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(history));
            }
            // The constraint reads the bytes the decoder writes (an unknown token is written as nothing unless rendered).
            if (json is not null && !json.Accept(Tokenizer.TokenToPiece(token, options.RenderSpecialTokens)))
                throw new InvalidOperationException("JSON mode: the logit bias bans every token that can continue the JSON output.");
            if (options.StopAtEndOfGeneration && Tokenizer.IsEndOfGeneration(token))
            {
                reason = StopReason.EndOfGeneration;
                break;
            }
            generated.Add(token);
            history.Add(token);
            text.Append(decoder.Append(token));

            if (options.StopStrings.Count > 0 && FindStop(text, options.StopStrings, Math.Max(0, emitted - holdBack)) is var stopAt and >= 0)
            {
                text.Length = stopAt;
                reason = StopReason.StopString;
                break;
            }
            var safe = text.Length - holdBack;
            if (safe > emitted)
            {
                onUpdate?.Invoke(new GenerationUpdate(text.ToString(emitted, safe - emitted), token));
                emitted = safe;
            }
            else
            {
                onUpdate?.Invoke(new GenerationUpdate("", token));
            }

            if (json is { IsComplete: true })
            {
                reason = StopReason.EndOfGeneration;
                break;
            }
            if (generated.Count >= options.MaxTokens)
                break;
            if (session.Position >= session.ContextLength)
            {
                reason = StopReason.ContextFull;
                break;
            }
            single[0] = token;
            logits = session.Evaluate(single);
        }

        if (reason != StopReason.StopString)
        {
            text.Append(decoder.Flush());
            if (options.StopStrings.Count > 0 && FindStop(text, options.StopStrings, Math.Max(0, emitted - holdBack)) is var stopAt and >= 0)
            {
                text.Length = stopAt;
                reason = StopReason.StopString;
            }
        }
        if (text.Length > emitted)
            onUpdate?.Invoke(new GenerationUpdate(text.ToString(emitted, text.Length - emitted), -1));
        return new GenerationResult(prompt, generated, text.ToString(), reason, promptTime, sw.Elapsed);
    }

    private bool JsonAllows(JsonConstraint json, int token, bool special) =>
        !Tokenizer.IsEndOfGeneration(token) && !Tokenizer.IsControl(token) && json.CanAccept(Tokenizer.TokenToPiece(token, special));

    private void MaskForJson(JsonConstraint json, ReadOnlySpan<float> logits, float[] masked, bool special)
    {
        var any = false;
        for (var t = 0; t < masked.Length; t++)
        {
            var allowed = JsonAllows(json, t, special);
            masked[t] = allowed ? logits[t] : float.NegativeInfinity;
            any |= allowed;
        }
        if (!any)
            throw new InvalidOperationException("JSON mode: no token of this vocabulary can continue the JSON output.");
    }

    private static int FindStop(StringBuilder text, IReadOnlyList<string> stops, int from)
    {
        var best = -1;
        var s = text.ToString(from, text.Length - from);
        foreach (var stop in stops)
        {
            var i = s.IndexOf(stop, StringComparison.Ordinal);
            if (i >= 0 && (best < 0 || i + from < best))
                best = i + from;
        }
        return best;
    }
}
