using Hearth.Engine.Sampling;

namespace Hearth.Engine.Generation;

/// <summary>How one generation runs: sampling, limits and stop conditions.</summary>
internal sealed record GenerationOptions
{
    /// <summary>Most tokens to generate.</summary>
    public int MaxTokens { get; init; } = 256;

    /// <summary>Sampling; <see cref="SamplingOptions.Greedy"/> for argmax.</summary>
    public SamplingOptions Sampling { get; init; } = SamplingOptions.Greedy;

    /// <summary>Text that ends the generation; the stop text itself is not returned.</summary>
    public IReadOnlyList<string> StopStrings { get; init; } = [];

    /// <summary>Whether an end-of-generation token (EOS, EOT, &lt;|im_end|&gt;...) ends the generation.</summary>
    public bool StopAtEndOfGeneration { get; init; } = true;

    /// <summary>Whether control tokens that are generated are rendered as text (e.g. for raw completions).</summary>
    public bool RenderSpecialTokens { get; init; }

    /// <summary>
    /// JSON mode: every token must keep the text a prefix of one JSON object (see <see cref="JsonConstraint"/>), and the
    /// generation ends when the object closes.
    /// </summary>
    public bool Json { get; init; }

    /// <summary>A compiled JSON schema the object must also match (implies <see cref="Json"/>).</summary>
    public JsonSchemaPlan? JsonSchema { get; init; }

    /// <summary>LoRA adapters to apply for this generation (null: the base model).</summary>
    public Model.LoraSet? Adapters { get; init; }

    /// <summary>Validates ranges, naming the bad value.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfNegative(MaxTokens);
        Sampling.Validate();
        foreach (var s in StopStrings)
        {
            if (string.IsNullOrEmpty(s))
                throw new ArgumentException("A stop string must not be empty.", nameof(StopStrings));
        }
    }
}

/// <summary>Why a generation ended.</summary>
internal enum StopReason
{
    /// <summary>The token limit was reached.</summary>
    Length,
    /// <summary>The model produced an end-of-generation token.</summary>
    EndOfGeneration,
    /// <summary>A stop string was produced.</summary>
    StopString,
    /// <summary>The context window is full.</summary>
    ContextFull,
}

/// <summary>One streamed piece of a generation.</summary>
/// <param name="Text">Text that became final with this token (may be empty while a UTF-8 sequence or a possible stop string is held back).</param>
/// <param name="Token">The token generated, or -1 for the final flush.</param>
internal readonly record struct GenerationUpdate(string Text, int Token);

/// <summary>Totals of one generation.</summary>
internal sealed record GenerationResult(
    IReadOnlyList<int> PromptTokens,
    IReadOnlyList<int> Tokens,
    string Text,
    StopReason StopReason,
    TimeSpan PromptTime,
    TimeSpan GenerationTime);
