using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;

namespace Hearth.Server;

/// <summary>
/// Tools on the wire, in both dialects: the <c>tools</c> a request offers (<c>{"type": "function", "function": {name,
/// description, parameters}}</c>), OpenAI's <c>tool_choice</c>, the calls an assistant message carries (OpenAI: arguments
/// as a JSON string, with ids; Ollama: arguments as an object), the tool results sent back, and the calls in an answer.
/// </summary>
internal static class ToolWire
{
    private static readonly JsonElement NoParameters = JsonDocument.Parse("""{"type": "object", "properties": {}}""").RootElement.Clone();

    /// <summary>The functions a request offers, or null when it offers none.</summary>
    public static List<AITool>? Tools(JsonObject body)
    {
        if (Json.Array(body, "tools") is not { Count: > 0 } tools)
            return null;
        var result = new List<AITool>(tools.Count);
        for (var i = 0; i < tools.Count; i++)
        {
            var at = $"tools[{i}]";
            if (tools[i] is not JsonObject tool || Json.Object(tool, "function", at) is not { } function)
                throw ApiException.BadRequest($"'{at}' must be {{\"type\": \"function\", \"function\": {{...}}}}", at);
            if (Json.String(tool, "type", at) is { } type && type != "function")
                throw ApiException.BadRequest($"'{at}.type' must be \"function\"; got '{type}'", at + ".type");
            var name = Json.RequiredString(function, "name", at + ".function");
            var parameters = Json.Object(function, "parameters", at + ".function") is { } p ? Json.Element(p) : NoParameters;
            result.Add(AIFunctionFactory.CreateDeclaration(name, Json.String(function, "description", at + ".function"), parameters));
        }
        return result;
    }

    /// <summary>OpenAI's <c>tool_choice</c>: none, auto, required, or one named function.</summary>
    public static ChatToolMode? Choice(JsonObject body) => body["tool_choice"] switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>() switch
        {
            "none" => ChatToolMode.None,
            "auto" => ChatToolMode.Auto,
            "required" => ChatToolMode.RequireAny,
            var other => throw ApiException.BadRequest($"'tool_choice' must be none, auto, required or a function; got '{other}'", "tool_choice"),
        },
        JsonObject o when Json.Object(o, "function", "tool_choice") is { } f => ChatToolMode.RequireSpecific(Json.RequiredString(f, "name", "tool_choice.function")),
        _ => throw ApiException.BadRequest("'tool_choice' must be none, auto, required or {\"type\": \"function\", \"function\": {\"name\": ...}}", "tool_choice"),
    };

    /// <summary>
    /// A history message as it arrived: a <c>tool</c> message is the result of the call named by <c>tool_call_id</c>,
    /// an assistant message carries its text and its <c>tool_calls</c>, any other is its text.
    /// </summary>
    public static ChatMessage Message(ChatRole role, string text, JsonObject message, string at, bool argumentsAsString)
    {
        if (role == ChatRole.Tool)
            return new ChatMessage(role, [new FunctionResultContent(Json.String(message, "tool_call_id", at) ?? "", text)]);
        var calls = role == ChatRole.Assistant ? Calls(message, at, argumentsAsString) : [];
        return calls.Count == 0 ? new ChatMessage(role, text) : new ChatMessage(role, [.. text.Length > 0 ? [new TextContent(text)] : Array.Empty<AIContent>(), .. calls]);
    }

    /// <summary>The calls of an assistant message (<c>tool_calls</c>); none when absent.</summary>
    private static List<AIContent> Calls(JsonObject message, string at, bool argumentsAsString)
    {
        var result = new List<AIContent>();
        if (Json.Array(message, "tool_calls", at) is not { } calls)
            return result;
        for (var i = 0; i < calls.Count; i++)
        {
            var call = $"{at}.tool_calls[{i}]";
            if (calls[i] is not JsonObject c || Json.Object(c, "function", call) is not { } f)
                throw ApiException.BadRequest($"'{call}' must hold a 'function' object", call);
            var name = Json.RequiredString(f, "name", call + ".function");
            Dictionary<string, object?>? arguments;
            try
            {
                var node = f["arguments"];
                using var doc = node is JsonValue s && s.GetValueKind() == JsonValueKind.String && argumentsAsString
                    ? JsonDocument.Parse(s.GetValue<string>())
                    : JsonDocument.Parse(node?.ToJsonString() ?? "{}");
                arguments = doc.RootElement.ValueKind == JsonValueKind.Object
                    ? doc.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => (object?)p.Value.Clone(), StringComparer.Ordinal)
                    : throw ApiException.BadRequest($"'{call}.function.arguments' must be a JSON object{(argumentsAsString ? " (as a string)" : "")}", call + ".function.arguments");
            }
            catch (JsonException ex)
            {
                throw ApiException.BadRequest($"'{call}.function.arguments' is not valid JSON: {ex.Message}", call + ".function.arguments");
            }
            result.Add(new FunctionCallContent(Json.String(c, "id", call) ?? $"call_{i}", name, arguments));
        }
        return result;
    }

    /// <summary>
    /// An answer's calls: OpenAI <c>{id, type, function: {name, arguments: "json"}}</c>, Ollama <c>{function: {name,
    /// arguments: {...}}}</c>; with <paramref name="firstIndex"/>, each also gets its <c>index</c> (streamed deltas).
    /// </summary>
    public static JsonArray? CallsJson(IEnumerable<AIContent> contents, bool openAi, int? firstIndex = null)
    {
        var calls = contents.OfType<FunctionCallContent>().ToList();
        if (calls.Count == 0)
            return null;
        var array = new JsonArray();
        for (var i = 0; i < calls.Count; i++)
        {
            var arguments = JsonSerializer.SerializeToNode(calls[i].Arguments ?? new Dictionary<string, object?>(), AIJsonUtilities.DefaultOptions)!;
            var function = new JsonObject { ["name"] = calls[i].Name, ["arguments"] = openAi ? arguments.ToJsonString() : arguments };
            var call = openAi ? new JsonObject { ["id"] = calls[i].CallId, ["type"] = "function", ["function"] = function } : new JsonObject { ["function"] = function };
            if (firstIndex is { } first)
                call.Insert(0, "index", first + i); // streamed deltas say which call they belong to
            array.Add(call);
        }
        return array;
    }
}
