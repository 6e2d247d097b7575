using Hearth.Engine.Generation;
using Hearth.Tests.Shared;
using Microsoft.Extensions.AI;

namespace Hearth.Engine.Tests.Generation;

public class GenerationTests
{
    // llama-simple -m stories260K.gguf -n 48 "Once upon a time" (tests/fixtures/models/stories260K.llama-simple-n48.txt, without "<s> ").
    private const string LlamaCppText = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it,";

    private static ChatOptions Greedy(int max) => new() { Temperature = 0, MaxOutputTokens = max };

    [Fact]
    public void GreedyStoriesMatchesLlamaCppText()
    {
        using var client = EngineChatClient.Open(Fixtures.Stories260K, new EngineOptions { Threads = 1 });
        var g = client.Generator;
        var prompt = g.Tokenizer.Encode("Once upon a time", addSpecial: true, parseSpecial: false);
        var pieces = new List<string>();
        var result = g.Generate(prompt, new GenerationOptions { MaxTokens = 48 }, u => pieces.Add(u.Text));
        Assert.Equal(48, result.Tokens.Count);
        Assert.Equal(StopReason.Length, result.StopReason);
        Assert.Equal(LlamaCppText, "Once upon a time" + result.Text);
        Assert.Equal(result.Text, string.Concat(pieces));
    }

    [Fact]
    public void StopStringEndsGenerationAndIsNotReturned()
    {
        using var client = EngineChatClient.Open(Fixtures.Stories260K, new EngineOptions { Threads = 1 });
        var g = client.Generator;
        var prompt = g.Tokenizer.Encode("Once upon a time", addSpecial: true, parseSpecial: false);
        var streamed = new List<string>();
        var result = g.Generate(prompt, new GenerationOptions { MaxTokens = 48, StopStrings = ["Lily."] }, u => streamed.Add(u.Text));
        Assert.Equal(StopReason.StopString, result.StopReason);
        Assert.Equal(", there was a little girl named ", result.Text);
        Assert.Equal(result.Text, string.Concat(streamed));
    }

    [Fact]
    public async Task ChatClientStreamsWhatItReturnsAndReportsUsage()
    {
        using var client = EngineChatClient.Open(Fixtures.Stories260K, new EngineOptions { Threads = 1 });
        ChatMessage[] messages = [new(ChatRole.User, "Once upon a time")];
        var response = await client.GetResponseAsync(messages, Greedy(20));
        Assert.Equal(LlamaCppText[..(response.Text.Length + "Once upon a time".Length)], "Once upon a time" + response.Text);
        Assert.Equal(ChatFinishReason.Length, response.FinishReason);
        Assert.Equal(20, response.Usage!.OutputTokenCount);
        Assert.Equal(5, response.Usage.InputTokenCount); // <s> plus 4 prompt tokens

        var updates = new List<ChatResponseUpdate>();
        await foreach (var u in client.GetStreamingResponseAsync(messages, Greedy(20)))
            updates.Add(u);
        Assert.Equal(response.Text, string.Concat(updates.Select(u => u.Text)));
        var usage = updates.SelectMany(u => u.Contents).OfType<UsageContent>().Single();
        Assert.Equal(20, usage.Details.OutputTokenCount);
        Assert.Equal(ChatFinishReason.Length, updates.Last().FinishReason);
    }

    [Fact]
    public async Task ConcurrentCallersGetIndependentResults()
    {
        using var client = EngineChatClient.Open(Fixtures.Stories260K, new EngineOptions { Threads = 1 });
        var tasks = Enumerable.Range(0, 4).Select(i => client.GetResponseAsync(
            [new ChatMessage(ChatRole.User, i % 2 == 0 ? "Once upon a time" : "The cat")], Greedy(24))).ToArray();
        var results = await Task.WhenAll(tasks);
        Assert.Equal(results[0].Text, results[2].Text);
        Assert.Equal(results[1].Text, results[3].Text);
        Assert.NotEqual(results[0].Text, results[1].Text);
        Assert.Equal(LlamaCppText[..(results[0].Text.Length + "Once upon a time".Length)], "Once upon a time" + results[0].Text);
    }

    [Fact]
    public async Task CancellationThrows()
    {
        using var client = EngineChatClient.Open(Fixtures.Stories260K, new EngineOptions { Threads = 1 });
        using var cts = new CancellationTokenSource();
        var count = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var _ in client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "Once upon a time")], Greedy(400), cts.Token))
            {
                if (++count == 3)
                    await cts.CancelAsync();
            }
        });
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            client.GetResponseAsync([new ChatMessage(ChatRole.User, "x")], Greedy(10), new CancellationToken(true)));
    }
}
