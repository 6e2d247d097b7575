using System.Text;
using System.Text.Json;
using Hearth.Engine.Generation;
using Hearth.Engine.Sampling;
using Hearth.Tests.Shared;
using Microsoft.Extensions.AI;

namespace Hearth.Engine.Tests.Generation;

/// <summary>JSON mode through the generator and the chat client, on the real stories260K model (which never writes JSON on its own).</summary>
public sealed class JsonModeTests
{
    [Fact]
    public void GreedyJsonModeWritesAValidPrefixFromTheFirstToken()
    {
        using var client = EngineChatClient.Open(Fixtures.Stories260K, new EngineOptions { Threads = 1 });
        var g = client.Generator;
        var prompt = g.Tokenizer.Encode("Once upon a time", addSpecial: true, parseSpecial: false);
        var free = g.Generate(prompt, new GenerationOptions { MaxTokens = 8 });
        Assert.DoesNotContain("{", free.Text, StringComparison.Ordinal); // unconstrained, the model tells a story

        var streamed = new StringBuilder();
        var result = g.Generate(prompt, new GenerationOptions { MaxTokens = 400, Json = true }, u => streamed.Append(u.Text));
        Assert.Equal(result.Text, streamed.ToString());
        Assert.StartsWith("{", result.Text.TrimStart(), StringComparison.Ordinal);
        AssertValidJsonPrefix(result, g);
    }

    [Fact]
    public void TheGenerationEndsAsSoonAsTheObjectCloses()
    {
        // A bias on "}" makes the closing brace the model's choice once it is allowed: "{" (forced) then "}".
        using var client = EngineChatClient.Open(Fixtures.Stories260K, new EngineOptions { Threads = 1 });
        var g = client.Generator;
        var close = Enumerable.Range(0, g.Tokenizer.VocabSize).Single(t => g.Tokenizer.TokenToPiece(t).SequenceEqual("}"u8));
        var prompt = g.Tokenizer.Encode("Once upon a time", addSpecial: true, parseSpecial: false);
        var options = new GenerationOptions
        {
            MaxTokens = 50,
            Json = true,
            Sampling = SamplingOptions.Greedy with { LogitBias = new Dictionary<int, float> { [close] = 100f } },
        };
        var result = g.Generate(prompt, options);
        Assert.Equal("{}", result.Text);
        Assert.Equal(2, result.Tokens.Count);
        Assert.Equal(StopReason.EndOfGeneration, result.StopReason);
        Assert.Equal(close, result.Tokens[1]);

        // Without JSON mode the same bias gives a run of braces up to the limit.
        var free = g.Generate(prompt, options with { Json = false });
        Assert.Equal(new string('}', 50), free.Text);
    }

    [Fact]
    public void ALogitBiasThatBansEveryWayOnIsAnErrorNotInvalidJson()
    {
        // Every token that could open the object is banned: the masked redraw has only -inf left. The generation
        // must fail rather than emit a token JSON mode refused (and go on from a state that never saw it).
        using var client = EngineChatClient.Open(Fixtures.Stories260K, new EngineOptions { Threads = 1 });
        var g = client.Generator;
        var opening = Enumerable.Range(0, g.Tokenizer.VocabSize).Where(t => new JsonConstraint().CanAccept(g.Tokenizer.TokenToPiece(t))).ToList();
        Assert.NotEmpty(opening);
        var prompt = g.Tokenizer.Encode("Once upon a time", addSpecial: true, parseSpecial: false);
        foreach (var sampling in new[] { SamplingOptions.Greedy, new SamplingOptions { Seed = 5 } })
        {
            var options = new GenerationOptions
            {
                MaxTokens = 10,
                Json = true,
                Sampling = sampling with { LogitBias = opening.ToDictionary(t => t, _ => float.NegativeInfinity) },
            };
            var ex = Assert.Throws<InvalidOperationException>(() => g.Generate(prompt, options));
            Assert.Contains("JSON mode", ex.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void TheConstraintSeesTheTextTheDecoderWrites()
    {
        // The unknown token's piece is "<unk>", but the decoder writes nothing for it: with a schema whose only value
        // is the string "<unk>", the biased model must spell it out, or the answer is {"a":""}, which does not match.
        using var client = EngineChatClient.Open(Fixtures.Stories260K, new EngineOptions { Threads = 1 });
        var g = client.Generator;
        var unk = Enumerable.Range(0, g.Tokenizer.VocabSize).Single(t => g.Tokenizer.TokenText(t) == "<unk>");
        Assert.False(g.Tokenizer.IsControl(unk));
        using var schema = JsonDocument.Parse("""{"type":"object","properties":{"a":{"enum":["<unk>"]}},"required":["a"],"additionalProperties":false}""");
        var prompt = g.Tokenizer.Encode("Once upon a time", addSpecial: true, parseSpecial: false);
        var result = g.Generate(prompt, new GenerationOptions
        {
            MaxTokens = 40,
            JsonSchema = JsonSchemaPlan.Compile(schema.RootElement),
            Sampling = SamplingOptions.Greedy with { LogitBias = new Dictionary<int, float> { [unk] = 100f } },
        });
        Assert.Equal(StopReason.EndOfGeneration, result.StopReason);
        Assert.Equal("""{"a":"<unk>"}""", result.Text.Replace(" ", "", StringComparison.Ordinal).Replace("\n", "", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(1UL)]
    [InlineData(2UL)]
    [InlineData(3UL)]
    [InlineData(4UL)]
    public void SampledJsonModeOutputIsAlwaysValidAndReproducible(ulong seed)
    {
        using var client = EngineChatClient.Open(Fixtures.Stories260K, new EngineOptions { Threads = 1 });
        var g = client.Generator;
        var prompt = g.Tokenizer.Encode("Tom and Lily", addSpecial: true, parseSpecial: false);
        var options = new GenerationOptions { MaxTokens = 200, Json = true, Sampling = new SamplingOptions { Temperature = 1.2f, TopK = 0, TopP = 1, Seed = seed } };
        var result = g.Generate(prompt, options);
        AssertValidJsonPrefix(result, g);
        Assert.Equal(result.Tokens, g.Generate(prompt, options).Tokens);
    }

    [Fact]
    public async Task ChatClientTakesJsonAndSchemaResponseFormatsAndRefusesWhatItCannotEnforce()
    {
        using var client = EngineChatClient.Open(Fixtures.Stories260K, new EngineOptions { Threads = 1 });
        ChatMessage[] messages = [new(ChatRole.User, "Describe a cat as JSON")];
        var response = await client.GetResponseAsync(messages, new ChatOptions { Temperature = 0, MaxOutputTokens = 300, ResponseFormat = ChatResponseFormat.Json });
        Assert.StartsWith("{", response.Text.TrimStart(), StringComparison.Ordinal);
        var c = new JsonConstraint();
        Assert.True(c.Accept(Encoding.UTF8.GetBytes(response.Text)), response.Text);
        if (response.FinishReason == ChatFinishReason.Stop)
            JsonDocument.Parse(response.Text).Dispose();

        // A schema is enforced: the answer is an object with exactly the declared, required property.
        using var schema = JsonDocument.Parse("""{"type":"object","properties":{"legs":{"type":"integer"}},"required":["legs"],"additionalProperties":false}""");
        var typed = await client.GetResponseAsync(messages, new ChatOptions { Temperature = 0, MaxOutputTokens = 100, ResponseFormat = ChatResponseFormat.ForJsonSchema(schema.RootElement, "cat") });
        Assert.Equal(ChatFinishReason.Stop, typed.FinishReason);
        using (var answer = JsonDocument.Parse(typed.Text))
            Assert.Equal("legs", Assert.Single(answer.RootElement.EnumerateObject()).Name);

        // One it cannot enforce is refused, naming the parameter, the schema and the keyword.
        using var unsupported = JsonDocument.Parse("""{"type":"object","allOf":[{"required":["name"]}]}""");
        var ex = await Assert.ThrowsAsync<ArgumentException>(() => client.GetResponseAsync(messages,
            new ChatOptions { ResponseFormat = ChatResponseFormat.ForJsonSchema(unsupported.RootElement, "cat") }));
        Assert.Equal("format", ex.ParamName);
        Assert.Contains("'cat'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("#/allOf", ex.Message, StringComparison.Ordinal);
    }

    /// <summary>A type for Microsoft.Extensions.AI's structured output.</summary>
    public sealed record Pet(string Name, int Legs, bool? Indoor, PetKind Kind);

    /// <summary>An enum in the structured output.</summary>
    public enum PetKind { Cat, Dog }

    [Fact]
    public async Task MicrosoftExtensionsAiTypedResponsesComeBackAsTheType()
    {
        // GetResponseAsync<T> sends the schema it generates for T; the engine enforces it, so the answer deserializes.
        using var client = EngineChatClient.Open(Fixtures.Stories260K, new EngineOptions { Threads = 1 });
        var response = await client.GetResponseAsync<Pet>("Tell me about a pet", new ChatOptions { Temperature = 0, MaxOutputTokens = 200 });
        Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
        Assert.True(response.TryGetResult(out var pet), response.Text);
        Assert.NotNull(pet!.Name);
        Assert.True(Enum.IsDefined(pet.Kind));
    }

    // Every token kept the text a JSON prefix; when the generation ended by itself, the text is one complete object.
    private static void AssertValidJsonPrefix(GenerationResult result, TextGenerator g)
    {
        var c = new JsonConstraint();
        foreach (var t in result.Tokens)
        {
            Assert.False(g.Tokenizer.IsControl(t));
            Assert.True(c.Accept(g.Tokenizer.TokenToPiece(t)), $"token {t} after '{result.Text}'");
        }
        if (result.StopReason == StopReason.EndOfGeneration)
        {
            Assert.True(c.IsComplete, result.Text);
            using var doc = JsonDocument.Parse(result.Text);
            Assert.Equal(JsonValueKind.Object, doc.RootElement.ValueKind);
        }
        else
        {
            Assert.Equal(StopReason.Length, result.StopReason);
            Assert.False(c.IsComplete);
        }
    }
}
