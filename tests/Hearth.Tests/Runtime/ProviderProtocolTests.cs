using System.Text.Json.Nodes;
using Hearth.Privacy;
using Hearth.Runtime;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.AI;

namespace Hearth.Tests.Runtime;

/// <summary>
/// Each HTTP provider against a loopback server that speaks that provider's wire protocol (request shape, JSON and
/// streaming replies, error bodies), through the whole runtime pipeline and the egress guard.
/// </summary>
public sealed class ProviderProtocolTests : RuntimeTestBase
{
    private static ChatOptions For(string domain) => new() { AdditionalProperties = new() { [HearthChatOptionKeys.Domain] = domain } };

    private static string Sse(object json) => "data: " + JsonNode.Parse(System.Text.Json.JsonSerializer.Serialize(json))!.ToJsonString() + "\n\n";

    [Fact]
    public async Task Ollama_chat_json_and_ndjson_stream_and_error_body()
    {
        await using var server = await ProtocolServer.StartAsync((app, s) => app.MapPost("/api/chat", async (HttpContext ctx) =>
        {
            var body = await s.ReadAsync(ctx);
            var model = (string?)body["model"];
            if (model == "missing")
            {
                await ProtocolServer.WriteAsync(ctx, 404, "application/json", ["{\"error\":\"model 'missing' not found, try pulling it first\"}"]);
                return;
            }

            var stream = (bool?)body["stream"] ?? true;
            string Line(string content, bool done) => new JsonObject
            {
                ["model"] = model, ["created_at"] = "2026-01-01T00:00:00Z",
                ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = content }, ["done"] = done,
            }.ToJsonString();
            string Final() => new JsonObject
            {
                ["model"] = model, ["created_at"] = "2026-01-01T00:00:00Z",
                ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = stream ? "" : "Hello from ollama" },
                ["done"] = true, ["done_reason"] = "stop", ["total_duration"] = 1000, ["prompt_eval_count"] = 7, ["eval_count"] = 3,
            }.ToJsonString();
            if (stream)
                await ProtocolServer.WriteAsync(ctx, 200, "application/x-ndjson", [Line("Hello ", false) + "\n", Line("from ", false) + "\n", Line("ollama", false) + "\n", Final() + "\n"]);
            else
                await ProtocolServer.WriteAsync(ctx, 200, "application/json", [Final()]);
        }));

        var yaml = $$"""
            providers: { ollama: { url: "{{server.Url}}" } }
            domains:
              support: { model: llama3.2:1b, provider: ollama, examples: [ "reset my password" ] }
              broken: { model: missing, provider: ollama, examples: [ "nothing" ] }
            """;
        using var rt = HearthRuntime.Create(Config(yaml), new HearthRuntimeOptions { Sweeper = false });

        var r = await rt.ChatClient.GetResponseAsync([new ChatMessage(ChatRole.System, "be brief"), new ChatMessage(ChatRole.User, "hi")], For("support"));
        Assert.Equal("Hello from ollama", r.Text);
        Assert.Equal(7, r.Usage!.InputTokenCount);
        Assert.Equal(3, r.Usage.OutputTokenCount);
        var (path, sent, _) = server.Received.Last();
        Assert.Equal("/api/chat", path);
        Assert.Equal("llama3.2:1b", (string?)sent["model"]);
        Assert.Equal(["system", "user"], sent["messages"]!.AsArray().Select(m => (string?)m!["role"]));

        var text = "";
        await foreach (var u in rt.ChatClient.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "hi")], For("support")))
            text += u.Text;
        Assert.Equal("Hello from ollama", text);
        Assert.True((bool?)server.Received.Last().Body["stream"] ?? true);

        var ex = await Assert.ThrowsAnyAsync<Exception>(() => rt.ChatClient.GetResponseAsync([new ChatMessage(ChatRole.User, "hi")], For("broken")));
        Assert.Contains("404", ex.Message, StringComparison.Ordinal);

        Assert.True(rt.EgressCounts.Allowed >= 1);
        Assert.Equal(0, rt.EgressCounts.Refused);
        var requests = AuditEntries("request");
        Assert.Equal(["completed", "completed"], requests.Take(2).Select(e => (string?)e["decision"]));
        Assert.StartsWith("failed", (string?)requests[2]["decision"], StringComparison.Ordinal);
        Assert.All(requests, e => Assert.Equal("ollama", (string?)e["provider"]));
    }

    [Fact]
    public async Task OpenAI_compatible_server_json_sse_stream_and_error_body()
    {
        await using var server = await ProtocolServer.StartAsync((app, s) => app.MapPost("/v1/chat/completions", async (HttpContext ctx) =>
        {
            var body = await s.ReadAsync(ctx);
            var model = (string?)body["model"];
            if (model == "missing")
            {
                await ProtocolServer.WriteAsync(ctx, 404, "application/json",
                    ["{\"error\":{\"message\":\"The model `missing` does not exist\",\"type\":\"invalid_request_error\",\"param\":\"model\",\"code\":\"model_not_found\"}}"]);
                return;
            }

            if ((bool?)body["stream"] == true)
            {
                object Chunk(object delta, string? finish) => new
                {
                    id = "chatcmpl-1", @object = "chat.completion.chunk", created = 1767225600, model,
                    choices = new[] { new { index = 0, delta, finish_reason = finish } },
                };
                await ProtocolServer.WriteAsync(ctx, 200, "text/event-stream",
                [
                    Sse(Chunk(new { role = "assistant", content = "Hello " }, null)),
                    Sse(Chunk(new { content = "from lm-studio" }, null)),
                    Sse(Chunk(new { }, "stop")),
                    Sse(new { id = "chatcmpl-1", @object = "chat.completion.chunk", created = 1767225600, model, choices = Array.Empty<object>(), usage = new { prompt_tokens = 9, completion_tokens = 4, total_tokens = 13 } }),
                    "data: [DONE]\n\n",
                ]);
                return;
            }

            await ProtocolServer.WriteAsync(ctx, 200, "application/json", [System.Text.Json.JsonSerializer.Serialize(new
            {
                id = "chatcmpl-2", @object = "chat.completion", created = 1767225600, model,
                choices = new[] { new { index = 0, message = new { role = "assistant", content = "Hello from lm-studio" }, finish_reason = "stop" } },
                usage = new { prompt_tokens = 9, completion_tokens = 4, total_tokens = 13 },
            })]);
        }));

        var yaml = $$"""
            providers:
              lmstudio: { type: openai_compatible, url: "{{server.Url}}v1" }
            domains:
              writing: { model: qwen2.5-7b-instruct, provider: lmstudio, examples: [ "write a poem" ] }
              broken: { model: missing, provider: lmstudio, examples: [ "nothing" ] }
            """;
        using var rt = HearthRuntime.Create(Config(yaml), new HearthRuntimeOptions { Sweeper = false });

        var r = await rt.ChatClient.GetResponseAsync([new ChatMessage(ChatRole.User, "a haiku please")], new ChatOptions
        {
            Temperature = 0.5f, MaxOutputTokens = 40, AdditionalProperties = new() { [HearthChatOptionKeys.Domain] = "writing" },
        });
        Assert.Equal("Hello from lm-studio", r.Text);
        Assert.Equal(4, r.Usage!.OutputTokenCount);
        var (path, sent, headers) = server.Received.Last();
        Assert.Equal("/v1/chat/completions", path);
        Assert.Equal("qwen2.5-7b-instruct", (string?)sent["model"]);
        Assert.Equal(0.5, (double)sent["temperature"]!, 3);
        Assert.Equal("a haiku please", (string?)sent["messages"]![0]!["content"]);
        Assert.StartsWith("Bearer ", headers["Authorization"], StringComparison.Ordinal);

        var text = "";
        await foreach (var u in rt.ChatClient.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "hi")], For("writing")))
            text += u.Text;
        Assert.Equal("Hello from lm-studio", text);
        Assert.True((bool?)server.Received.Last().Body["stream"]);
        Assert.Equal(4, (int?)AuditEntries("request").Last()["output_tokens"]);

        var ex = await Assert.ThrowsAnyAsync<Exception>(() => rt.ChatClient.GetResponseAsync([new ChatMessage(ChatRole.User, "hi")], For("broken")));
        Assert.Contains("does not exist", ex.Message, StringComparison.Ordinal);
        Assert.Contains("404", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Anthropic_messages_json_sse_stream_and_error_body_only_when_opted_in()
    {
        await using var server = await ProtocolServer.StartAsync((app, s) => app.MapPost("/v1/messages", async (HttpContext ctx) =>
        {
            var body = await s.ReadAsync(ctx);
            var model = (string?)body["model"];
            if (model == "missing")
            {
                await ProtocolServer.WriteAsync(ctx, 404, "application/json",
                    ["{\"type\":\"error\",\"error\":{\"type\":\"not_found_error\",\"message\":\"model: missing\"}}"]);
                return;
            }

            if ((bool?)body["stream"] == true)
            {
                static string Event(string name, object data) => $"event: {name}\n" + Sse(data);
                await ProtocolServer.WriteAsync(ctx, 200, "text/event-stream",
                [
                    Event("message_start", new { type = "message_start", message = new { id = "msg_1", type = "message", role = "assistant", model, content = Array.Empty<object>(), stop_reason = (string?)null, stop_sequence = (string?)null, usage = new { input_tokens = 11, output_tokens = 1 } } }),
                    Event("content_block_start", new { type = "content_block_start", index = 0, content_block = new { type = "text", text = "" } }),
                    Event("content_block_delta", new { type = "content_block_delta", index = 0, delta = new { type = "text_delta", text = "Hello " } }),
                    Event("content_block_delta", new { type = "content_block_delta", index = 0, delta = new { type = "text_delta", text = "from claude" } }),
                    Event("content_block_stop", new { type = "content_block_stop", index = 0 }),
                    Event("message_delta", new { type = "message_delta", delta = new { stop_reason = "end_turn", stop_sequence = (string?)null }, usage = new { output_tokens = 5 } }),
                    Event("message_stop", new { type = "message_stop" }),
                ]);
                return;
            }

            await ProtocolServer.WriteAsync(ctx, 200, "application/json", [System.Text.Json.JsonSerializer.Serialize(new
            {
                id = "msg_2", type = "message", role = "assistant", model,
                content = new[] { new { type = "text", text = "Hello from claude" } },
                stop_reason = "end_turn", stop_sequence = (string?)null,
                usage = new { input_tokens = 11, output_tokens = 5 },
            })]);
        }));

        var yaml = $$"""
            system: { mode: hybrid }
            privacy: { external_calls: enabled, data_processing: external_allowed }
            providers: { anthropic: { url: "{{server.Url}}", enabled: true, api_key_env: TEST_ANTHROPIC_KEY } }
            domains:
              marketing: { model: claude-test, provider: anthropic, policy: allow_cloud, examples: [ "write ad copy" ] }
              notes: { model: local-notes, examples: [ "summarise my notes" ] }
              broken: { model: missing, provider: anthropic, policy: allow_cloud, examples: [ "nothing" ] }
            """;
        using var rt = HearthRuntime.Create(Config(yaml), new HearthRuntimeOptions { Sweeper = false, Environment = v => v == "TEST_ANTHROPIC_KEY" ? "sk-test" : null });

        var r = await rt.ChatClient.GetResponseAsync([new ChatMessage(ChatRole.User, "a slogan")], For("marketing"));
        Assert.Equal("Hello from claude", r.Text);
        var (path, sent, headers) = server.Received.Last();
        Assert.Equal("/v1/messages", path);
        Assert.Equal("claude-test", (string?)sent["model"]);
        Assert.Equal("Bearer sk-test", headers["Authorization"]); // the SDK sends ApiKey as a bearer token

        var text = "";
        await foreach (var u in rt.ChatClient.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "hi")], For("marketing")))
            text += u.Text;
        Assert.Equal("Hello from claude", text);

        var ex = await Assert.ThrowsAnyAsync<Exception>(() => rt.ChatClient.GetResponseAsync([new ChatMessage(ChatRole.User, "hi")], For("broken")));
        Assert.Contains("missing", ex.Message, StringComparison.Ordinal);

        // A local_only domain never reaches the cloud provider, even when it is enabled and the request names it.
        var count = server.Received.Count;
        var toCloud = For("notes");
        toCloud.AdditionalProperties![HearthChatOptionKeys.Provider] = "anthropic";
        var refused = await Assert.ThrowsAsync<PolicyRefusedException>(() => rt.ChatClient.GetResponseAsync([new ChatMessage(ChatRole.User, "my notes")], toCloud));
        Assert.Contains("local_only", refused.Message, StringComparison.Ordinal);
        Assert.Equal(count, server.Received.Count);
    }
}
