using System.Text.Json.Nodes;
using Hearth.Engine.Generation;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.AI;

namespace Hearth.Server;

/// <summary>The OpenAI API: <c>/v1/models</c>, <c>/v1/chat/completions</c>, <c>/v1/completions</c>, <c>/v1/embeddings</c>.</summary>
internal static class OpenAIEndpoints
{
    public static void Map(WebApplication app, HearthServerContext server)
    {
        app.MapGet("/v1/models", () =>
        {
            var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            var data = new JsonArray();
            foreach (var id in ModelCatalog.Names(server.Runtime))
                data.Add(new JsonObject { ["id"] = id, ["object"] = "model", ["created"] = created, ["owned_by"] = "hearth" });
            return Results.Text(new JsonObject { ["object"] = "list", ["data"] = data }.ToJsonString(), "application/json");
        });
        app.MapPost("/v1/chat/completions", (HttpContext http) => ChatAsync(http, server, chat: true));
        app.MapPost("/v1/completions", (HttpContext http) => ChatAsync(http, server, chat: false));
        app.MapPost("/v1/embeddings", async (HttpContext http) =>
        {
            var body = await Json.ReadObjectAsync(http.Request, http.RequestAborted).ConfigureAwait(false);
            var model = Json.RequiredString(body, "model");
            var inputs = Json.Strings(body, "input", 2048) ?? throw ApiException.BadRequest("'input' is required: a string or an array of strings", "input");
            var format = Json.String(body, "encoding_format") ?? "float";
            if (format is not ("float" or "base64"))
                throw ApiException.BadRequest($"'encoding_format' must be \"float\" or \"base64\"; got \"{format}\"", "encoding_format");
            var dimensions = Json.Integer(body, "dimensions", 1, 1 << 20);
            var result = await server.EmbedAsync(model, inputs, dimensions, http.RequestAborted).ConfigureAwait(false);
            var data = new JsonArray();
            for (var i = 0; i < result.Count; i++)
            {
                var vector = result[i].Vector;
                JsonNode values = format == "base64"
                    ? JsonValue.Create(Convert.ToBase64String(System.Runtime.InteropServices.MemoryMarshal.AsBytes(vector.Span)))
                    : new JsonArray([.. vector.ToArray().Select(v => (JsonNode?)JsonValue.Create(v))]);
                data.Add(new JsonObject { ["object"] = "embedding", ["index"] = i, ["embedding"] = values });
            }
            var tokens = result.Usage?.InputTokenCount ?? 0;
            var answer = new JsonObject
            {
                ["object"] = "list",
                ["data"] = data,
                ["model"] = model,
                ["usage"] = new JsonObject { ["prompt_tokens"] = tokens, ["total_tokens"] = tokens },
            };
            return Results.Text(answer.ToJsonString(), "application/json");
        });
    }

    private static async Task ChatAsync(HttpContext http, HearthServerContext server, bool chat)
    {
        var ct = http.RequestAborted;
        var body = await Json.ReadObjectAsync(http.Request, ct).ConfigureAwait(false);
        var model = Json.RequiredString(body, "model");
        var messages = chat ? Messages(body) : [new ChatMessage(ChatRole.User, Json.RequiredString(body, "prompt"))];
        var options = server.OptionsFor(model);
        if (!chat)
            options.AdditionalProperties![EngineChatOptionKeys.RawPrompt] = true;
        options.Temperature = (float?)Json.Number(body, "temperature", 0, 2);
        options.TopP = (float?)Json.Number(body, "top_p", 0, 1);
        options.FrequencyPenalty = (float?)Json.Number(body, "frequency_penalty", -2, 2);
        options.PresencePenalty = (float?)Json.Number(body, "presence_penalty", -2, 2);
        options.Seed = Json.Long(body, "seed");
        if (Json.Object(body, "logit_bias") is { Count: > 0 } bias)
        {
            // {"token id": bias in [-100, 100]}, as OpenAI takes it; -100 bans the token.
            var biases = new Dictionary<int, float>();
            foreach (var (key, _) in bias)
            {
                if (!int.TryParse(key, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var token))
                    throw ApiException.BadRequest($"'logit_bias' keys are token ids; got '{key}'", "logit_bias");
                var value = (float)(Json.Number(bias, key, -100, 100, "logit_bias")
                    ?? throw ApiException.BadRequest($"'logit_bias.{key}' must be a number between -100 and 100", "logit_bias"));
                biases[token] = value == -100 ? float.NegativeInfinity : value;
            }
            options.AdditionalProperties![EngineChatOptionKeys.LogitBias] = (IReadOnlyDictionary<int, float>)biases;
        }
        var maxParam = body.ContainsKey("max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
        options.MaxOutputTokens = server.MaxTokens(Json.Integer(body, maxParam, 1, int.MaxValue), maxParam);
        if (Json.Strings(body, "stop", 4) is { } stop)
            options.StopSequences = stop;
        if (Json.Object(body, "response_format") is { } format)
        {
            var type = Json.RequiredString(format, "type", "response_format");
            options.ResponseFormat = type switch
            {
                "text" => null,
                "json_object" => ChatResponseFormat.Json,
                // Passed on: a provider that enforces schemas uses it; the embedded engine answers 400 naming the parameter.
                "json_schema" when Json.Object(format, "json_schema") is { } schema => ChatResponseFormat.ForJsonSchema(
                    Json.Element(Json.Object(schema, "schema") ?? []),
                    Json.String(schema, "name"), Json.String(schema, "description")),
                "json_schema" => throw ApiException.BadRequest("response_format json_schema needs a 'json_schema' object", "response_format"),
                _ => throw new ApiException(400, $"response_format '{type}' is not supported; use text, json_object or json_schema", "invalid_request_error", "response_format", "unsupported_response_format"),
            };
        }

        options.Tools = ToolWire.Tools(body);
        options.ToolMode = ToolWire.Choice(body);
        if (options.ToolMode is RequiredChatToolMode && options.Tools is null)
            throw ApiException.BadRequest("'tool_choice' requires a tool call, but the request offers no 'tools'", "tool_choice");

        _ = Json.Integer(body, "n", 1, 1); // one choice per request
        var stream = Json.Bool(body, "stream") ?? false;
        var includeUsage = Json.Bool(Json.Object(body, "stream_options") ?? [], "include_usage", "stream_options") ?? false;

        var id = (chat ? "chatcmpl-" : "cmpl-") + Guid.NewGuid().ToString("N")[..24];
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        using var slot = await server.EnterSlotAsync(ct).ConfigureAwait(false);
        if (!stream)
        {
            var response = await server.Runtime.ChatClient.GetResponseAsync(messages, options, ct).ConfigureAwait(false);
            var answered = response.ModelId ?? model;
            http.Response.Headers["x-hearth-route"] = HearthServerContext.RouteHeader(response.AdditionalProperties, options, answered);
            var usage = Usage(response.Usage);
            server.Metrics.Tokens(response.Usage?.InputTokenCount ?? 0, response.Usage?.OutputTokenCount ?? 0);
            var message = new JsonObject { ["role"] = "assistant", ["content"] = response.Text };
            if (ToolWire.CallsJson(response.Messages.SelectMany(m => m.Contents), openAi: true) is { } calls)
            {
                message["tool_calls"] = calls;
                if (response.Text.Length == 0)
                    message["content"] = null;
            }
            var choice = chat
                ? new JsonObject { ["index"] = 0, ["message"] = message, ["logprobs"] = null, ["finish_reason"] = Finish(response.FinishReason) }
                : new JsonObject { ["index"] = 0, ["text"] = response.Text, ["logprobs"] = null, ["finish_reason"] = Finish(response.FinishReason) };
            var result = new JsonObject
            {
                ["id"] = id, ["object"] = chat ? "chat.completion" : "text_completion", ["created"] = created, ["model"] = answered,
                ["choices"] = new JsonArray(choice), ["usage"] = usage,
            };
            http.Response.ContentType = "application/json";
            await http.Response.WriteAsync(result.ToJsonString(), ct).ConfigureAwait(false);
            return;
        }

        await using var updates = server.Runtime.ChatClient.GetStreamingResponseAsync(messages, options, ct).GetAsyncEnumerator(ct);
        // The first update carries the route decision; it decides the header, so read it before the response starts.
        var more = await updates.MoveNextAsync().ConfigureAwait(false);
        var first = more ? updates.Current : null;
        var answeredModel = first?.ModelId ?? options.ModelId ?? model;
        http.Response.Headers["x-hearth-route"] = HearthServerContext.RouteHeader(first?.AdditionalProperties, options, answeredModel);
        http.Response.ContentType = "text/event-stream";
        http.Response.Headers.CacheControl = "no-cache";
        UsageDetails? usageDetails = null;
        ChatFinishReason? finish = null;
        var sentRole = false;
        var callIndex = 0;
        try
        {
            while (more)
            {
                var u = updates.Current;
                finish ??= u.FinishReason;
                foreach (var c in u.Contents)
                {
                    if (c is UsageContent uc)
                        usageDetails = uc.Details;
                }

                if (chat && ToolWire.CallsJson(u.Contents, openAi: true, callIndex) is { } calls)
                {
                    var delta = new JsonObject { ["tool_calls"] = calls };
                    if (!sentRole)
                        delta.Insert(0, "role", "assistant");
                    sentRole = true;
                    callIndex += calls.Count;
                    await Sse(http, Chunk(id, created, answeredModel, chat, delta, "", null), ct).ConfigureAwait(false);
                }

                if (u.Text.Length > 0 || (chat && !sentRole))
                {
                    var delta = new JsonObject();
                    if (chat && !sentRole)
                        delta["role"] = "assistant";
                    delta["content"] = u.Text;
                    sentRole = true;
                    await Sse(http, Chunk(id, created, answeredModel, chat, chat ? delta : null, u.Text, null), ct).ConfigureAwait(false);
                }

                more = await updates.MoveNextAsync().ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            // Headers are gone: report in-band, as the last event, then end the stream.
            await Sse(http, ApiException.From(ex).OpenAIBody(), ct).ConfigureAwait(false);
            await http.Response.WriteAsync("data: [DONE]\n\n", ct).ConfigureAwait(false);
            return;
        }

        server.Metrics.Tokens(usageDetails?.InputTokenCount ?? 0, usageDetails?.OutputTokenCount ?? 0);
        await Sse(http, Chunk(id, created, answeredModel, chat, chat ? [] : null, "", Finish(finish)), ct).ConfigureAwait(false);
        if (includeUsage)
        {
            await Sse(http, new JsonObject
            {
                ["id"] = id, ["object"] = chat ? "chat.completion.chunk" : "text_completion", ["created"] = created, ["model"] = answeredModel,
                ["choices"] = new JsonArray(), ["usage"] = Usage(usageDetails),
            }, ct).ConfigureAwait(false);
        }

        await http.Response.WriteAsync("data: [DONE]\n\n", ct).ConfigureAwait(false);
    }

    private static JsonObject Chunk(string id, long created, string model, bool chat, JsonObject? delta, string text, string? finish)
    {
        var choice = chat
            ? new JsonObject { ["index"] = 0, ["delta"] = delta, ["logprobs"] = null, ["finish_reason"] = finish }
            : new JsonObject { ["index"] = 0, ["text"] = text, ["logprobs"] = null, ["finish_reason"] = finish };
        return new JsonObject
        {
            ["id"] = id, ["object"] = chat ? "chat.completion.chunk" : "text_completion", ["created"] = created, ["model"] = model,
            ["choices"] = new JsonArray(choice),
        };
    }

    private static async Task Sse(HttpContext http, JsonObject data, CancellationToken ct)
    {
        await http.Response.WriteAsync("data: " + data.ToJsonString() + "\n\n", ct).ConfigureAwait(false);
        await http.Response.Body.FlushAsync(ct).ConfigureAwait(false);
    }

    private static string Finish(ChatFinishReason? reason) =>
        reason == ChatFinishReason.Length ? "length" : reason == ChatFinishReason.ToolCalls ? "tool_calls" : "stop";

    private static JsonObject Usage(UsageDetails? u) => new()
    {
        ["prompt_tokens"] = u?.InputTokenCount ?? 0,
        ["completion_tokens"] = u?.OutputTokenCount ?? 0,
        ["total_tokens"] = (u?.InputTokenCount ?? 0) + (u?.OutputTokenCount ?? 0),
    };

    private static List<ChatMessage> Messages(JsonObject body)
    {
        var array = Json.Array(body, "messages") ?? throw ApiException.BadRequest("'messages' is required", "messages");
        if (array.Count == 0)
            throw ApiException.BadRequest("'messages' must hold at least one message", "messages");
        var result = new List<ChatMessage>(array.Count);
        for (var i = 0; i < array.Count; i++)
        {
            var prefix = $"messages[{i}]";
            if (array[i] is not JsonObject m)
                throw ApiException.BadRequest($"'{prefix}' must be an object", prefix);
            var role = Json.RequiredString(m, "role", prefix) switch
            {
                "system" or "developer" => ChatRole.System,
                "user" => ChatRole.User,
                "assistant" => ChatRole.Assistant,
                "tool" => ChatRole.Tool,
                var other => throw ApiException.BadRequest($"'{prefix}.role' must be system, developer, user, assistant or tool; got '{other}'", prefix + ".role"),
            };
            string text;
            switch (m["content"])
            {
                case null:
                    text = "";
                    break;
                case JsonValue v when v.TryGetValue<string>(out var s):
                    text = s;
                    break;
                case JsonArray parts:
                    text = string.Concat(parts.Select((p, j) => p is JsonObject po && (string?)po["type"] == "text"
                        ? Json.RequiredString(po, "text", $"{prefix}.content[{j}]")
                        : throw ApiException.BadRequest($"'{prefix}.content[{j}]' must be a text part; this server accepts text only", $"{prefix}.content")));
                    break;
                default:
                    throw ApiException.BadRequest($"'{prefix}.content' must be a string or an array of text parts", prefix + ".content");
            }

            result.Add(ToolWire.Message(role, text, m, prefix, argumentsAsString: true));
        }

        return result;
    }
}
