using System.ClientModel;
using System.Collections;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Hearth.Store;
using Hearth.Tests.Shared;
using Microsoft.Extensions.AI;
using OllamaSharp;
using OpenAI;

namespace Hearth.Server.Tests;

/// <summary>Tool calls over HTTP: the official OpenAI SDK and OllamaSharp, through their Microsoft.Extensions.AI adapters, on the Qwen3 fixture model.</summary>
public sealed class ToolCallTests
{
    private const string Qwen = "qwen3:tiny";

    // Parameters a tiny random model finishes quickly: an enum and an integer.
    private static AIFunctionDeclaration Forecast() => AIFunctionFactory.CreateDeclaration("get_forecast", "Forecast for a city",
        JsonDocument.Parse("""{"type": "object", "properties": {"city": {"enum": ["Paris", "Oslo"]}, "days": {"type": "integer"}}, "required": ["city", "days"]}""").RootElement);

    private static async Task<TestServer> StartAsync()
    {
        var s = await TestServer.StartAsync();
        await new ModelPuller(s.Runtime.Store, s.Runtime.Config, new Hashtable()).PullAsync(Fixtures.File("qwen3", "qwen3-F32_embQ4_0.gguf"), new PullOptions { Name = Qwen });
        return s;
    }

    private static ChatOptions Required() => new() { Temperature = 0, MaxOutputTokens = 120, Tools = [Forecast()], ToolMode = ChatToolMode.RequireSpecific("get_forecast") };

    private static void AssertForecastCall(FunctionCallContent call)
    {
        Assert.Equal("get_forecast", call.Name);
        Assert.Contains(call.Arguments!["city"]?.ToString(), new[] { "Paris", "Oslo" });
        Assert.True(long.TryParse(call.Arguments["days"]?.ToString(), out _), call.Arguments["days"]?.ToString());
    }

    [Fact]
    public async Task OpenAiSdkGetsTheCallStreamedOrNotAndCanSendTheResultBack()
    {
        await using var s = await StartAsync();
        IChatClient client = new OpenAIClient(new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = new Uri(s.Url, "/v1") }).GetChatClient(Qwen).AsIChatClient();
        List<ChatMessage> messages = [new(ChatRole.User, "Forecast for Paris?")];
        var response = await client.GetResponseAsync(messages, Required());
        Assert.Equal(ChatFinishReason.ToolCalls, response.FinishReason);
        var call = Assert.Single(response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>());
        AssertForecastCall(call);

        var streamed = new List<ChatResponseUpdate>();
        await foreach (var u in client.GetStreamingResponseAsync(messages, Required()))
            streamed.Add(u);
        AssertForecastCall(Assert.Single(streamed.SelectMany(u => u.Contents).OfType<FunctionCallContent>()));
        Assert.Contains(streamed, u => u.FinishReason == ChatFinishReason.ToolCalls);

        // The call and its result go back as the next turn's history (assistant tool_calls, tool message).
        messages.AddRange(response.Messages);
        messages.Add(new ChatMessage(ChatRole.Tool, [new FunctionResultContent(call.CallId, "sunny")]));
        var answer = await client.GetResponseAsync(messages, new ChatOptions { Temperature = 0, MaxOutputTokens = 8, Tools = [Forecast()], ToolMode = ChatToolMode.None });
        Assert.NotEqual(ChatFinishReason.ToolCalls, answer.FinishReason);
        Assert.NotEmpty(answer.Text);
    }

    [Fact]
    public async Task OllamaDialectCarriesToolsCallsAndResultsBothWays()
    {
        // Ollama's API has no tool_choice, so the tiny model is not made to call: a stand-in model that calls
        // get_forecast whenever tools are offered checks what the server hands over and sends back.
        var loader = new ToolEchoLoader();
        await using var s = await TestServer.StartAsync(loader: loader);
        using var ollama = new OllamaApiClient(s.Url, "echo");
        IChatClient client = ollama;
        List<ChatMessage> history =
        [
            new(ChatRole.User, "Forecast for Oslo?"),
            new(ChatRole.Assistant, [new FunctionCallContent("c1", "get_forecast", new Dictionary<string, object?> { ["city"] = "Paris", ["days"] = 1 })]),
            new(ChatRole.Tool, [new FunctionResultContent("c1", "rain")]),
            new(ChatRole.User, "And Oslo?"),
        ];
        var response = await client.GetResponseAsync(history, new ChatOptions { Tools = [Forecast()] });
        var call = Assert.Single(response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>());
        Assert.Equal("get_forecast", call.Name);
        Assert.Equal("Oslo", call.Arguments!["city"]?.ToString());
        Assert.Equal(["get_forecast"], loader.OfferedTools);
        // The history arrived as calls and results, not as flattened text.
        var seenCall = Assert.Single(loader.Received!.SelectMany(m => m.Contents).OfType<FunctionCallContent>());
        Assert.Equal(("get_forecast", "Paris"), (seenCall.Name, seenCall.Arguments!["city"]?.ToString()));
        // (OllamaSharp writes a result as the JSON of the whole result content; the server passes it on as the tool text.)
        Assert.Contains("rain", Assert.Single(loader.Received!.SelectMany(m => m.Contents).OfType<FunctionResultContent>()).Result?.ToString(), StringComparison.Ordinal);

        var streamed = new List<ChatResponseUpdate>();
        await foreach (var u in client.GetStreamingResponseAsync(history, new ChatOptions { Tools = [Forecast()] }))
            streamed.Add(u);
        Assert.Equal("Oslo", Assert.Single(streamed.SelectMany(u => u.Contents).OfType<FunctionCallContent>()).Arguments!["city"]?.ToString());

        // /api/show lists "tools" for a model whose template renders them.
        await new ModelPuller(s.Runtime.Store, s.Runtime.Config, new Hashtable()).PullAsync(Fixtures.File("qwen3", "qwen3-F32_embQ4_0.gguf"), new PullOptions { Name = Qwen });
        using (var show = await s.Http.PostAsync("/api/show", ClientTests.Body(new JsonObject { ["model"] = Qwen })))
            Assert.Contains("tools", JsonNode.Parse(await show.Content.ReadAsStringAsync())!["capabilities"]!.AsArray().Select(c => (string?)c));
        using (var show = await s.Http.PostAsync("/api/show", ClientTests.Body(new JsonObject { ["model"] = TestServer.Model })))
            Assert.DoesNotContain("tools", JsonNode.Parse(await show.Content.ReadAsStringAsync())!["capabilities"]!.AsArray().Select(c => (string?)c));
    }

    /// <summary>A model that calls get_forecast(city: Oslo) whenever tools are offered, and remembers what it was given.</summary>
    private sealed class ToolEchoLoader : Hearth.Runtime.IModelLoader
    {
        public List<string>? OfferedTools;

        public List<ChatMessage>? Received;

        public Hearth.Runtime.ModelPlan Plan(string name) => new(name, "/echo/" + name, 1 << 20, null);

        public IChatClient Load(Hearth.Runtime.ModelPlan plan) => new Client(this);

        private sealed class Client(ToolEchoLoader owner) : IChatClient
        {
            private ChatMessage Answer(IEnumerable<ChatMessage> messages, ChatOptions? options)
            {
                owner.Received = [.. messages];
                owner.OfferedTools = options?.Tools?.Select(t => t.Name).ToList();
                return owner.OfferedTools is { Count: > 0 }
                    ? new ChatMessage(ChatRole.Assistant, [new FunctionCallContent("c2", "get_forecast", new Dictionary<string, object?> { ["city"] = "Oslo", ["days"] = 2 })])
                    : new ChatMessage(ChatRole.Assistant, "no tools");
            }

            public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
                Task.FromResult(new ChatResponse(Answer(messages, options)) { FinishReason = ChatFinishReason.ToolCalls });

            public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
            {
                await Task.Yield();
                yield return new ChatResponseUpdate(ChatRole.Assistant, Answer(messages, options).Contents) { FinishReason = ChatFinishReason.ToolCalls };
            }

            public object? GetService(Type serviceType, object? serviceKey = null) => null;

            public void Dispose()
            {
            }
        }
    }

    [Theory]
    [InlineData("""{"tools": [{"type": "function"}]}""", "tools[0]")]
    [InlineData("""{"tools": [{"type": "retrieval", "function": {"name": "f"}}]}""", "tools[0].type")]
    [InlineData("""{"tools": [{"type": "function", "function": {"description": "no name"}}]}""", "tools[0].function.name")]
    [InlineData("""{"tool_choice": "always"}""", "tool_choice")]
    [InlineData("""{"tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": {"type": "function", "function": {"name": "g"}}}""", "options")]
    [InlineData("""{"tool_choice": "required"}""", "tool_choice")] // a call required with no tools was answered as text
    [InlineData("""{"tool_choice": {"type": "function", "function": {"name": "f"}}}""", "tool_choice")]
    [InlineData("""{"messages": [{"role": "assistant", "content": "", "tool_calls": [{"id": "1", "type": "function", "function": {"name": "f", "arguments": "{not json"}}]}, {"role": "user", "content": "x"}]}""", "messages[0].tool_calls[0].function.arguments")]
    public async Task BadToolRequestsGet400NamingTheField(string extra, string param)
    {
        await using var s = await StartAsync();
        var body = new JsonObject
        {
            ["model"] = Qwen, ["max_tokens"] = 4,
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "Hi" }),
        };
        foreach (var (k, v) in JsonNode.Parse(extra)!.AsObject())
            body[k] = v?.DeepClone();
        using var r = await s.Http.PostAsync("/v1/chat/completions", ClientTests.Body(body));
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        Assert.Equal(param, (string?)JsonNode.Parse(await r.Content.ReadAsStringAsync())!["error"]!["param"]);
    }

    [Fact]
    public async Task ToolsForAModelWithoutToolSupportAreA400()
    {
        await using var s = await TestServer.StartAsync();
        var body = new JsonObject
        {
            ["model"] = TestServer.Model, ["max_tokens"] = 4,
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "Hi" }),
            ["tools"] = new JsonArray(new JsonObject { ["type"] = "function", ["function"] = new JsonObject { ["name"] = "f" } }),
        };
        using var r = await s.Http.PostAsync("/v1/chat/completions", ClientTests.Body(body));
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        Assert.Contains("does not support tools", (string?)JsonNode.Parse(await r.Content.ReadAsStringAsync())!["error"]!["message"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task ToolChoiceNoneOrAutoWithoutToolsAndAToolMessageWithoutAnIdAreAnswered()
    {
        await using var s = await StartAsync();
        var body = new JsonObject
        {
            ["model"] = Qwen, ["max_tokens"] = 2, ["tool_choice"] = "auto",
            ["messages"] = new JsonArray(
                new JsonObject { ["role"] = "user", ["content"] = "Forecast?" },
                new JsonObject { ["role"] = "assistant", ["content"] = null, ["tool_calls"] = new JsonArray(new JsonObject { ["type"] = "function", ["function"] = new JsonObject { ["name"] = "get_forecast", ["arguments"] = "{}" } }) },
                new JsonObject { ["role"] = "tool", ["content"] = "sunny" }),
        };
        using var r = await s.Http.PostAsync("/v1/chat/completions", ClientTests.Body(body));
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        body["tool_choice"] = "none";
        using var none = await s.Http.PostAsync("/v1/chat/completions", ClientTests.Body(body));
        Assert.Equal(HttpStatusCode.OK, none.StatusCode);
    }

    [Fact]
    public async Task ARequiredCallCutOffByMaxTokensSendsNoJsonAsContent()
    {
        // The fragment of the call's JSON came back as the answer's content (and was streamed as text).
        await using var s = await StartAsync();
        var body = new JsonObject
        {
            ["model"] = Qwen, ["max_tokens"] = 3, ["temperature"] = 0,
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "Forecast for Paris?" }),
            ["tools"] = new JsonArray(JsonNode.Parse("""{"type": "function", "function": {"name": "get_forecast", "parameters": {"type": "object", "properties": {"city": {"enum": ["Paris", "Oslo"]}}, "required": ["city"]}}}""")),
            ["tool_choice"] = "required",
        };
        using var r = await s.Http.PostAsync("/v1/chat/completions", ClientTests.Body(body));
        var choice = JsonNode.Parse(await r.Content.ReadAsStringAsync())!["choices"]![0]!;
        Assert.Equal("length", (string?)choice["finish_reason"]);
        Assert.Equal("", (string?)choice["message"]!["content"] ?? "");
        Assert.Null(choice["message"]!["tool_calls"]);

        body["stream"] = true;
        using var streamed = await s.Http.PostAsync("/v1/chat/completions", ClientTests.Body(body));
        var events = (await streamed.Content.ReadAsStringAsync()).Split("\n\n", StringSplitOptions.RemoveEmptyEntries)
            .Select(e => e["data: ".Length..]).Where(d => d != "[DONE]").Select(d => JsonNode.Parse(d)!["choices"]![0]!).ToList();
        Assert.Equal("", string.Concat(events.Select(c => (string?)c["delta"]?["content"])));
        Assert.Equal("length", (string?)events[^1]["finish_reason"]);
    }
}
