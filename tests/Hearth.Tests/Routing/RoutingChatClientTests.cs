using Hearth.Privacy;
using Hearth.Routing;
using Microsoft.Extensions.AI;

namespace Hearth.Tests.Routing;

public sealed class RoutingChatClientTests
{
    /// <summary>Records the options each call received.</summary>
    private sealed class RecordingClient : IChatClient
    {
        public List<ChatOptions?> Seen { get; } = [];

        public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        {
            Seen.Add(options);
            return Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "ok")));
        }

        public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            Seen.Add(options);
            await Task.Yield();
            yield return new ChatResponseUpdate(ChatRole.Assistant, "o");
            yield return new ChatResponseUpdate(ChatRole.Assistant, "k");
        }

        public object? GetService(Type serviceType, object? serviceKey = null) => null;

        public void Dispose()
        {
        }
    }

    private static readonly DomainRouter Router = DomainRouter.Create(DomainRouterTests.Config("models: { default: qwen3 }"));

    [Fact]
    public async Task RoutesEachRequestAndRecordsTheDecision()
    {
        var inner = new RecordingClient();
        using var client = new ChatClientBuilder(inner).UseRouting(Router).Build();
        var callerOptions = new ChatOptions { AdditionalProperties = new() { ["caller.key"] = 7 } };
        var response = await client.GetResponseAsync(
            [new ChatMessage(ChatRole.System, "be brief"), new ChatMessage(ChatRole.User, "What are the side effects of metformin for diabetes?")],
            callerOptions);

        var seen = Assert.Single(inner.Seen)!;
        Assert.Equal("healthcare", seen.AdditionalProperties![HearthChatOptionKeys.Domain]);
        Assert.Equal("embedded", seen.AdditionalProperties[HearthChatOptionKeys.Provider]);
        Assert.Equal(7, seen.AdditionalProperties["caller.key"]);
        Assert.Equal("qwen3", seen.ModelId);
        var decision = Assert.IsType<RouteDecision>(response.AdditionalProperties![RoutingChatOptionKeys.Decision]);
        Assert.Same(decision, seen.AdditionalProperties[RoutingChatOptionKeys.Decision]);
        Assert.Equal("healthcare", decision.Domain);

        // The caller's options are not changed (they may be shared between concurrent requests).
        Assert.False(callerOptions.AdditionalProperties.ContainsKey(HearthChatOptionKeys.Domain));
        Assert.Null(callerOptions.ModelId);
    }

    [Fact]
    public async Task RequestThatNamesADomainIsNotRerouted()
    {
        var inner = new RecordingClient();
        using var client = new ChatClientBuilder(inner).UseRouting(Router).Build();
        var options = new ChatOptions { AdditionalProperties = new() { [HearthChatOptionKeys.Domain] = "business" } };
        var response = await client.GetResponseAsync("What are the side effects of metformin?", options);
        Assert.Same(options, inner.Seen.Single());
        Assert.Null(response.AdditionalProperties);
    }

    [Fact]
    public async Task StreamingPutsTheDecisionOnTheFirstUpdate()
    {
        var inner = new RecordingClient();
        using var client = new ChatClientBuilder(inner).UseRouting(Router).Build();
        var updates = new List<ChatResponseUpdate>();
        await foreach (var u in client.GetStreamingResponseAsync("Write a sonnet about the autumn rain"))
            updates.Add(u);
        Assert.Equal(2, updates.Count);
        Assert.Equal("creative", Assert.IsType<RouteDecision>(updates[0].AdditionalProperties![RoutingChatOptionKeys.Decision]).Domain);
        Assert.Null(updates[1].AdditionalProperties);
        Assert.Equal("creative", inner.Seen.Single()!.AdditionalProperties![HearthChatOptionKeys.Domain]);
    }

    [Fact]
    public async Task RoutedDomainIsWhatThePrivacyPolicySees()
    {
        // A cloud-allowed marketing domain next to a local one; the policy after the router admits the routed request.
        var config = DomainRouterTests.Config("""
            system: { mode: hybrid }
            privacy: { external_calls: enabled }
            providers:
              openai: { enabled: true }
            domains:
              marketing: { model: gpt-4o-mini, provider: openai, policy: allow_cloud, examples: [ "ad copy for a summer sale" ] }
              notes: { model: qwen3, examples: [ "summarise my meeting notes" ] }
            """);
        var inner = new RecordingClient();
        using var client = new ChatClientBuilder(inner).UseRouting(DomainRouter.Create(config)).UsePrivacyPolicy(config).Build();
        await client.GetResponseAsync("write ad copy for our summer sale");
        Assert.Equal("marketing", inner.Seen.Single()!.AdditionalProperties![HearthChatOptionKeys.Domain]);
        Assert.Equal("gpt-4o-mini", inner.Seen.Single()!.ModelId);
    }

    [Fact]
    public void ArgumentsAreValidated()
    {
        using var inner = new RecordingClient();
        Assert.Throws<ArgumentNullException>("router", () => new DomainRoutingChatClient(inner, null!));
        Assert.Throws<ArgumentNullException>("router", () => new ChatClientBuilder(inner).UseRouting(null!));
    }
}
