using System.Collections.Frozen;

namespace Hearth.Routing;

/// <summary>The kinds of emotional cue the router recognises.</summary>
public enum EmotionKind
{
    /// <summary>Fear, anxiety, feeling overwhelmed.</summary>
    Distress,

    /// <summary>Time pressure, emergencies.</summary>
    Urgency,

    /// <summary>Frustration, anger.</summary>
    Anger,

    /// <summary>Grief, loneliness, low mood.</summary>
    Sadness,

    /// <summary>Happiness, excitement, gratitude.</summary>
    Joy,
}

/// <summary>The emotional reading of a query: one value per <see cref="EmotionKind"/> and an overall intensity in [0, 1].</summary>
/// <param name="Distress">Summed distress cue strength (0 when none).</param>
/// <param name="Urgency">Summed urgency cue strength.</param>
/// <param name="Anger">Summed anger cue strength.</param>
/// <param name="Sadness">Summed sadness cue strength.</param>
/// <param name="Joy">Summed joy cue strength.</param>
/// <param name="Intensity">Overall need for an empathetic answer, 1 − e^(−(distress + urgency + anger + sadness + 0.4·joy)).</param>
/// <param name="Cues">The cues found, e.g. <c>"very worried (distress ×1.5)"</c>, in text order.</param>
public sealed record EmotionReading(double Distress, double Urgency, double Anger, double Sadness, double Joy, double Intensity, IReadOnlyList<string> Cues)
{
    /// <summary>A reading with no cues.</summary>
    public static EmotionReading None { get; } = new(0, 0, 0, 0, 0, 0, []);
}

/// <summary>
/// Lexicon-and-rules emotion scorer. Each cue word or phrase has a kind and a strength. Rules: a negator (not, no,
/// never, without, hardly, any "n't" word) up to three words before a cue, within the same clause, cancels a negative
/// cue ("not worried") and turns a joy cue into half-strength sadness ("not happy"); an intensifier up to two words
/// before multiplies it by 1.5 ("extremely anxious"), a diminisher by 0.5 ("a bit worried"); a cue written in capitals
/// counts 1.5×; exclamation marks raise every cue (×1.2 per mark, at most three) and repeated marks alone add urgency;
/// shouting (at least two all-capital words making up 40 % of the words) adds anger.
/// </summary>
public static class EmotionScorer
{
    private static readonly FrozenDictionary<string, (EmotionKind Kind, double Weight)> Lexicon = BuildLexicon();
    private static readonly FrozenDictionary<string, (EmotionKind Kind, double Weight)>.AlternateLookup<ReadOnlySpan<char>> Words = Lexicon.GetAlternateLookup<ReadOnlySpan<char>>();

    private static readonly FrozenSet<string> Negators = FrozenSet.ToFrozenSet(
        ["not", "no", "never", "without", "hardly", "barely", "nothing", "nobody", "neither", "nor", "cannot", "none"], StringComparer.Ordinal);

    private static readonly FrozenSet<string>.AlternateLookup<ReadOnlySpan<char>> NegatorLookup = Negators.GetAlternateLookup<ReadOnlySpan<char>>();

    private static readonly FrozenDictionary<string, double> Modifiers = new Dictionary<string, double>(StringComparer.Ordinal)
    {
        ["very"] = 1.5, ["extremely"] = 1.5, ["really"] = 1.5, ["so"] = 1.5, ["incredibly"] = 1.5, ["totally"] = 1.5,
        ["absolutely"] = 1.5, ["completely"] = 1.5, ["terribly"] = 1.5, ["utterly"] = 1.5, ["deeply"] = 1.5, ["super"] = 1.5,
        ["seriously"] = 1.5, ["truly"] = 1.5, ["awfully"] = 1.5, ["insanely"] = 1.5, ["too"] = 1.3, ["more"] = 1.2,
        ["slightly"] = 0.5, ["bit"] = 0.5, ["somewhat"] = 0.5, ["mildly"] = 0.5, ["little"] = 0.5, ["fairly"] = 0.7, ["kinda"] = 0.5,
    }.ToFrozenDictionary(StringComparer.Ordinal);

    private static readonly FrozenDictionary<string, double>.AlternateLookup<ReadOnlySpan<char>> ModifierLookup = Modifiers.GetAlternateLookup<ReadOnlySpan<char>>();

    private static FrozenDictionary<string, (EmotionKind, double)> BuildLexicon()
    {
        var d = new Dictionary<string, (EmotionKind, double)>(StringComparer.Ordinal);
        void Add(EmotionKind kind, double weight, params string[] words)
        {
            foreach (var w in words)
                d[w] = (kind, weight);
        }

        Add(EmotionKind.Distress, 1.0, "panic", "panicking", "panicked", "terrified", "scared", "afraid", "frightened", "anxious",
            "anxiety", "overwhelmed", "desperate", "desperately", "hopeless", "helpless", "petrified", "dread", "dreading",
            "traumatized", "traumatised", "suicidal", "breakdown", "falling apart", "can't cope", "cannot cope", "can't breathe",
            "freaking out", "at my wit's end", "losing my mind", "end of my rope");
        Add(EmotionKind.Distress, 0.7, "worried", "worry", "worrying", "worries", "nervous", "stressed", "stress", "stressful",
            "fear", "fears", "frantic", "struggling", "struggle", "alarmed", "shaking", "trembling", "uneasy", "insecure", "ashamed",
            "embarrassed", "guilty", "exhausted", "burnt out", "burned out", "burnout", "can't sleep", "can't stop");
        Add(EmotionKind.Distress, 0.5, "hurt", "hurts", "hurting", "pain", "painful", "agony", "suffering");
        Add(EmotionKind.Urgency, 1.0, "emergency", "urgent", "urgently", "immediately", "asap", "right now", "right away",
            "as soon as possible", "life or death", "dying", "bleeding", "unconscious", "overdose", "collapsed");
        Add(EmotionKind.Urgency, 0.5, "quickly", "hurry", "tonight", "help me");
        Add(EmotionKind.Anger, 1.0, "furious", "angry", "livid", "outraged", "hate", "enraged", "infuriating", "infuriated",
            "disgusted", "unacceptable", "fed up", "sick of", "pissed");
        Add(EmotionKind.Anger, 0.6, "frustrated", "frustrating", "annoyed", "annoying", "irritated", "ridiculous", "mad", "upset", "unfair",
            "resent", "betrayed", "useless");
        Add(EmotionKind.Sadness, 1.0, "devastated", "heartbroken", "grieving", "grief", "depressed", "depression", "miserable",
            "crying", "cried", "lonely", "worthless", "despair", "mourning", "passed away", "heartbreak");
        Add(EmotionKind.Sadness, 0.6, "sad", "unhappy", "alone", "disappointed", "regret", "tears", "empty", "numb", "gloomy",
            "feel down", "feeling down");
        Add(EmotionKind.Joy, 1.0, "thrilled", "delighted", "overjoyed", "ecstatic", "elated", "excited", "grateful", "thankful");
        Add(EmotionKind.Joy, 0.6, "happy", "glad", "love", "wonderful", "amazing", "proud", "relieved", "awesome",
            "fantastic", "joy", "celebrate", "celebrating");
        return d.ToFrozenDictionary(StringComparer.Ordinal);
    }

    private readonly record struct Token(int Start, int Length, bool Capitals, int Clause);

    /// <summary>Reads the emotional cues of <paramref name="text"/>.</summary>
    /// <param name="text">The query.</param>
    /// <param name="collectCues">Whether to list the cues found (for explanations); false allocates nothing but the result.</param>
    /// <returns>The reading.</returns>
    public static EmotionReading Score(ReadOnlySpan<char> text, bool collectCues = true)
    {
        Span<double> sums = stackalloc double[5];
        List<string>? cues = collectCues ? [] : null;
        Span<char> lower = text.Length <= 2048 ? stackalloc char[text.Length] : new char[text.Length];
        text.ToLowerInvariant(lower);
        Span<Token> tokens = text.Length <= 1024 ? stackalloc Token[(text.Length / 2) + 1] : new Token[(text.Length / 2) + 1];
        var count = 0;
        var clause = 0;
        var exclamations = 0;
        var capsWords = 0;
        var i = 0;
        while (i < text.Length)
        {
            var c = text[i];
            if (c == '!')
                exclamations++;
            if (c is '.' or ',' or ';' or ':' or '!' or '?' or '\n')
                clause++;
            if (!char.IsLetterOrDigit(c))
            {
                i++;
                continue;
            }

            var start = i;
            var upper = 0;
            var letters = 0;
            while (i < text.Length && (char.IsLetterOrDigit(text[i]) || (text[i] is '\'' or '\u2019' && i + 1 < text.Length && char.IsLetter(text[i + 1]))))
            {
                if (text[i] == '\u2019')
                    lower[i] = '\'';
                if (char.IsLetter(text[i]))
                {
                    letters++;
                    if (char.IsUpper(text[i]))
                        upper++;
                }

                i++;
            }

            var caps = letters >= 3 && upper == letters;
            if (caps)
                capsWords++;
            tokens[count++] = new Token(start, i - start, caps, clause);
        }

        var shouting = capsWords >= 2 && capsWords * 5 >= count * 2;
        var punctuation = 1.0 + (0.2 * Math.Min(exclamations, 3));
        Span<char> phrase = stackalloc char[96];
        for (var t = 0; t < count; t++)
        {
            // Longest phrase first (up to five words), then the single word.
            var matchedWords = 0;
            (EmotionKind Kind, double Weight) cue = default;
            for (var n = Math.Min(5, count - t); n >= 1 && matchedWords == 0; n--)
            {
                var first = tokens[t];
                var last = tokens[t + n - 1];
                if (last.Clause != first.Clause)
                    continue;
                var length = BuildPhrase(lower, tokens.Slice(t, n), phrase);
                if (length > 0 && Words.TryGetValue(phrase[..length], out cue))
                    matchedWords = n;
            }

            if (matchedWords == 0)
                continue;
            var weight = cue.Weight;
            var kind = cue.Kind;
            var notes = "";
            if (tokens[t].Capitals)
            {
                weight *= 1.5;
                notes += " caps";
            }

            // Modifiers and negators look back within the clause.
            var negated = false;
            for (var b = t - 1; b >= 0 && b >= t - 3 && tokens[b].Clause == tokens[t].Clause; b--)
            {
                var w = lower.Slice(tokens[b].Start, tokens[b].Length);
                if (NegatorLookup.Contains(w) || w.EndsWith("n't"))
                {
                    negated = true;
                    break;
                }

                if (b >= t - 2 && ModifierLookup.TryGetValue(w, out var m))
                {
                    weight *= m;
                    notes += $" ×{m:0.#}";
                }
            }

            if (negated)
            {
                if (kind != EmotionKind.Joy)
                {
                    cues?.Add($"{Describe(text, tokens, t, matchedWords)} (negated {Name(kind)}, ignored)");
                    t += matchedWords - 1;
                    continue;
                }

                kind = EmotionKind.Sadness;
                weight *= 0.5;
                notes += " negated joy";
            }

            weight *= punctuation;
            sums[(int)kind] += weight;
            cues?.Add($"{Describe(text, tokens, t, matchedWords)} ({Name(kind)} {weight:0.##}{notes})");
            t += matchedWords - 1;
        }

        if (exclamations >= 2)
        {
            var extra = 0.15 * Math.Min(exclamations - 1, 3);
            sums[(int)EmotionKind.Urgency] += extra;
            cues?.Add($"{exclamations} exclamation marks (urgency {extra:0.##})");
        }

        if (shouting)
        {
            var extra = 0.2 * Math.Min(capsWords, 5);
            sums[(int)EmotionKind.Anger] += extra;
            cues?.Add($"{capsWords} words in capitals (anger {extra:0.##})");
        }

        var raw = sums[0] + sums[1] + sums[2] + sums[3] + (0.4 * sums[4]);
        var intensity = 1.0 - Math.Exp(-raw);
        return raw == 0 && cues is not { Count: > 0 }
            ? EmotionReading.None
            : new EmotionReading(sums[0], sums[1], sums[2], sums[3], sums[4], intensity, cues ?? (IReadOnlyList<string>)[]);
    }

    private static int BuildPhrase(ReadOnlySpan<char> lower, ReadOnlySpan<Token> words, Span<char> into)
    {
        var at = 0;
        foreach (var w in words)
        {
            if (at > 0)
            {
                if (at >= into.Length)
                    return 0;
                into[at++] = ' ';
            }

            if (at + w.Length > into.Length)
                return 0;
            lower.Slice(w.Start, w.Length).CopyTo(into[at..]);
            at += w.Length;
        }

        return at;
    }

    private static string Describe(ReadOnlySpan<char> text, ReadOnlySpan<Token> tokens, int t, int n)
    {
        var start = tokens[t].Start;
        var end = tokens[t + n - 1].Start + tokens[t + n - 1].Length;
        return "'" + text[start..end].ToString() + "'";
    }

    private static string Name(EmotionKind kind) => kind switch
    {
        EmotionKind.Distress => "distress",
        EmotionKind.Urgency => "urgency",
        EmotionKind.Anger => "anger",
        EmotionKind.Sadness => "sadness",
        _ => "joy",
    };
}
