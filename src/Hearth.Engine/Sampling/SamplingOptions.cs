namespace Hearth.Engine.Sampling;

/// <summary>
/// How the next token is chosen from logits. Applied in llama.cpp's default order: penalties, top-k,
/// top-p, min-p, temperature, then a draw; a temperature of 0 or less means greedy (argmax after penalties).
/// </summary>
internal sealed record SamplingOptions
{
    /// <summary>Greedy decoding with no penalties.</summary>
    public static SamplingOptions Greedy { get; } = new() { Temperature = 0 };

    /// <summary>Softmax temperature; 0 or less = greedy.</summary>
    public float Temperature { get; init; } = 0.8f;

    /// <summary>Keep the k most likely tokens; 0 = all.</summary>
    public int TopK { get; init; } = 40;

    /// <summary>Keep the smallest set of most likely tokens whose probability reaches p; 1 = all.</summary>
    public float TopP { get; init; } = 0.95f;

    /// <summary>Drop tokens whose probability is below min_p times the most likely one's; 0 = off.</summary>
    public float MinP { get; init; } = 0.05f;

    /// <summary>Repetition penalty (CTRL-style: positive logits divided, negative multiplied); 1 = off.</summary>
    public float RepetitionPenalty { get; init; } = 1f;

    /// <summary>Subtracted once per earlier occurrence of a token.</summary>
    public float FrequencyPenalty { get; init; }

    /// <summary>Subtracted once if a token occurred at all.</summary>
    public float PresencePenalty { get; init; }

    /// <summary>How many most recent tokens the penalties look at; 0 = none, -1 = all given.</summary>
    public int PenaltyLastN { get; init; } = 64;

    /// <summary>
    /// Added to these tokens' logits before anything else (OpenAI's <c>logit_bias</c>); negative infinity bans a token.
    /// </summary>
    public IReadOnlyDictionary<int, float>? LogitBias { get; init; }

    /// <summary>Seed for the draw; null = a random seed.</summary>
    public ulong? Seed { get; init; }

    /// <summary>Checks ranges; the message names the option.</summary>
    public void Validate()
    {
        if (float.IsNaN(Temperature))
            throw new ArgumentOutOfRangeException(nameof(Temperature), "Temperature is NaN.");
        ArgumentOutOfRangeException.ThrowIfNegative(TopK, nameof(TopK));
        if (!(TopP is > 0 and <= 1))
            throw new ArgumentOutOfRangeException(nameof(TopP), TopP, "TopP must be in (0, 1].");
        if (!(MinP is >= 0 and <= 1))
            throw new ArgumentOutOfRangeException(nameof(MinP), MinP, "MinP must be in [0, 1].");
        if (!(RepetitionPenalty > 0))
            throw new ArgumentOutOfRangeException(nameof(RepetitionPenalty), RepetitionPenalty, "RepetitionPenalty must be positive.");
        ArgumentOutOfRangeException.ThrowIfLessThan(PenaltyLastN, -1, nameof(PenaltyLastN));
        foreach (var (token, bias) in LogitBias ?? new Dictionary<int, float>())
        {
            if (token < 0 || float.IsNaN(bias) || float.IsPositiveInfinity(bias))
                throw new ArgumentOutOfRangeException(nameof(LogitBias), $"Logit bias {bias} for token {token}: the token must be 0 or more and the bias a number (or negative infinity).");
        }
    }
}
