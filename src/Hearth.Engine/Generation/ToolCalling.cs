using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Hearth.Engine.Sampling;
using Microsoft.Extensions.AI;

namespace Hearth.Engine.Generation;

/// <summary>How a model family writes tool calls, told from its chat template.</summary>
internal enum ToolCallFormat
{
    /// <summary>The template renders no tools: the model is not offered any.</summary>
    None,

    /// <summary>Hermes / Qwen 2.5 / Qwen 3: <c>&lt;tool_call&gt;{"name": …, "arguments": {…}}&lt;/tool_call&gt;</c>, one block per call.</summary>
    Hermes,

    /// <summary>Llama 3.1+ JSON tool calling: the answer is <c>{"name": …, "parameters": {…}}</c>.</summary>
    Llama3Json,
}

/// <summary>
/// Tool calling for the embedded engine: offers <see cref="ChatOptions.Tools"/> to the model through its chat template
/// (the OpenAI function shape the templates expect), renders earlier calls and results back into the conversation, finds
/// the calls in what the model wrote, and, when a call is required (<see cref="ChatToolMode.RequireAny"/> or a named
/// function), makes the model write one: the format's opening is put at the end of the prompt and JSON mode with a
/// schema of the call (the function's name, its parameters schema) writes the rest.
/// </summary>
internal static class ToolCalling
{
    private const string HermesOpen = "<tool_call>";
    private const string HermesClose = "</tool_call>";

    // Microsoft.Extensions.AI's defaults (its converters for AI content types), on one line as the templates show results.
    private static readonly JsonSerializerOptions Compact = new(AIJsonUtilities.DefaultOptions) { WriteIndented = false };

    /// <summary>The format a chat template uses for tools (None when it has no tool support).</summary>
    public static ToolCallFormat Detect(string? templateSource)
    {
        if (templateSource is null || !templateSource.Contains("tools", StringComparison.Ordinal)) return ToolCallFormat.None;
        if (templateSource.Contains(HermesOpen, StringComparison.Ordinal)) return ToolCallFormat.Hermes;
        if (templateSource.Contains("<|start_header_id|>", StringComparison.Ordinal) && templateSource.Contains("\"parameters\"", StringComparison.Ordinal))
            return ToolCallFormat.Llama3Json;
        return ToolCallFormat.None;
    }

    /// <summary>The text that starts a call in <paramref name="format"/> (held back while streaming), or null.</summary>
    public static string? Opening(ToolCallFormat format) => format switch
    {
        ToolCallFormat.Hermes => HermesOpen,
        ToolCallFormat.Llama3Json => "{\"name\"",
        _ => null,
    };

    /// <summary>The functions offered, as the templates' <c>tools</c>: <c>{"type": "function", "function": {name, description, parameters}}</c>.</summary>
    public static List<object?> ToolsForTemplate(IEnumerable<AIFunctionDeclaration> functions) =>
        [.. functions.Select(f => (object?)new Dictionary<string, object?>
        {
            ["type"] = "function",
            ["function"] = new Dictionary<string, object?>
            {
                ["name"] = f.Name,
                ["description"] = f.Description,
                ["parameters"] = f.JsonSchema,
            },
        })];

    // role, content, and for an assistant's calls tool_calls ({"type": "function", "id", "function": {name, arguments}}).
    private static Dictionary<string, object?> MessageForTemplate(ChatMessage message)
    {
        var result = new Dictionary<string, object?>(StringComparer.Ordinal) { ["role"] = message.Role.Value, ["content"] = message.Text };
        var calls = message.Contents.OfType<FunctionCallContent>().ToList();
        if (calls.Count > 0)
        {
            result["tool_calls"] = calls.Select(c => (object?)new Dictionary<string, object?>
            {
                ["type"] = "function",
                ["id"] = c.CallId,
                ["function"] = new Dictionary<string, object?>
                {
                    ["name"] = c.Name,
                    ["arguments"] = JsonSerializer.SerializeToElement(c.Arguments ?? new Dictionary<string, object?>(), Compact),
                },
            }).ToList();
        }
        return result;
    }

    /// <summary>
    /// A message as the templates expect it: <c>role</c>, <c>content</c>, an assistant's calls as <c>tool_calls</c>;
    /// a message with results is one <c>tool</c> message per result (Microsoft.Extensions.AI sends the results of
    /// parallel calls in one message; the OpenAI shape has each its own), content the result (text as is, anything
    /// else as JSON), with its <c>tool_call_id</c>.
    /// </summary>
    public static IEnumerable<Dictionary<string, object?>> MessagesForTemplate(ChatMessage message)
    {
        var results = message.Contents.OfType<FunctionResultContent>().ToList();
        if (results.Count == 0)
            return [MessageForTemplate(message)];
        return results.Select(r => new Dictionary<string, object?>(StringComparer.Ordinal) { ["role"] = "tool", ["content"] = ResultText(r), ["tool_call_id"] = r.CallId });
    }

    private static string? ResultText(FunctionResultContent r) => r.Result switch
    {
        null => "",
        string s => s,
        JsonElement { ValueKind: JsonValueKind.String } e => e.GetString(),
        var other => JsonSerializer.Serialize(other, Compact),
    };

    /// <summary>
    /// Splits what the model wrote into text and calls. A call whose JSON does not parse, or lacks a name, stays text.
    /// </summary>
    public static (string Text, List<FunctionCallContent> Calls) Parse(string output, ToolCallFormat format)
    {
        var calls = new List<FunctionCallContent>();
        switch (format)
        {
            case ToolCallFormat.Hermes:
            {
                var text = new StringBuilder();
                var at = 0;
                while (at < output.Length)
                {
                    var open = output.IndexOf(HermesOpen, at, StringComparison.Ordinal);
                    if (open < 0) break;
                    var close = output.IndexOf(HermesClose, open, StringComparison.Ordinal);
                    var body = close < 0 ? output[(open + HermesOpen.Length)..] : output[(open + HermesOpen.Length)..close];
                    if (Call(body, "arguments", calls.Count) is not { } call) break;
                    calls.Add(call);
                    text.Append(output, at, open - at);
                    at = close < 0 ? output.Length : close + HermesClose.Length;
                }
                if (calls.Count == 0) return (output, calls);
                text.Append(output, at, output.Length - at);
                return (text.ToString().Trim(), calls);
            }
            case ToolCallFormat.Llama3Json:
            {
                var trimmed = output.Trim();
                if (trimmed.StartsWith('{') && Call(trimmed, "parameters", 0) is { } call)
                    return ("", [call]);
                return (output, calls);
            }
            default:
                return (output, calls);
        }
    }

    // {"name": "...", "<argumentsKey>": {...}} → a call; anything else → null.
    private static FunctionCallContent? Call(string json, string argumentsKey, int index)
    {
        try
        {
            using var doc = JsonDocument.Parse(json.Trim());
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String)
                return null;
            Dictionary<string, object?>? arguments = null;
            if (root.TryGetProperty(argumentsKey, out var args) || root.TryGetProperty("arguments", out args))
            {
                if (args.ValueKind == JsonValueKind.String) // some models write the arguments as a JSON string
                {
                    using var inner = JsonDocument.Parse(args.GetString()!);
                    args = inner.RootElement.Clone();
                }
                if (args.ValueKind != JsonValueKind.Object) return null;
                arguments = args.EnumerateObject().ToDictionary(p => p.Name, p => (object?)p.Value.Clone(), StringComparer.Ordinal);
            }
            return new FunctionCallContent("call_" + index.ToString(System.Globalization.CultureInfo.InvariantCulture) + "_" + Guid.NewGuid().ToString("N")[..8], name.GetString()!, arguments);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    // A function's parameters schema as the schema of a required call's arguments: always an object (an empty schema,
    // or one without a type, would let JSON mode write arguments that are not one, and a call that does not parse), its
    // local references ("#/$defs/x", "#/properties/a") pointing where the schema now sits inside the call's schema.
    private static string ArgumentsSchema(JsonElement parameters, string at)
    {
        if (JsonNode.Parse(parameters.GetRawText()) is not JsonObject schema)
            return """{"type": "object"}""";
        if (!schema.ContainsKey("type") && !schema.ContainsKey("$ref"))
            schema.Insert(0, "type", "object");
        Rebase(schema, at);
        return schema.ToJsonString();
    }

    private static void Rebase(JsonNode? schema, string at)
    {
        switch (schema)
        {
            case JsonObject o:
                foreach (var (key, value) in o.ToList())
                {
                    if (key == "$ref" && value is JsonValue v && v.TryGetValue<string>(out var reference) && reference.StartsWith('#'))
                        o[key] = at + reference[1..];
                    else if (key is "properties" or "patternProperties" or "$defs" or "definitions" && value is JsonObject named)
                        foreach (var (_, s) in named) Rebase(s, at); // names, then schemas
                    else if (key is not ("enum" or "const" or "default" or "examples")) // values, not schemas
                        Rebase(value, at);
                }
                break;
            case JsonArray a:
                foreach (var item in a) Rebase(item, at);
                break;
        }
    }

    /// <summary>
    /// For a required call: the text put after the generation prompt (the format's opening) and the schema of the call
    /// JSON mode then writes. One candidate function: its name and its parameters schema; several: one of their names
    /// and an object of arguments. A parameters schema JSON mode cannot enforce is refused, naming the function.
    /// </summary>
    public static (string Prefix, JsonSchemaPlan Schema, string Suffix) Forced(ToolCallFormat format, IReadOnlyList<AIFunctionDeclaration> candidates)
    {
        var argumentsKey = format == ToolCallFormat.Llama3Json ? "parameters" : "arguments";
        var names = JsonSerializer.Serialize(candidates.Select(c => c.Name).ToArray());
        var arguments = candidates.Count == 1 ? ArgumentsSchema(candidates[0].JsonSchema, "#/properties/" + argumentsKey) : """{"type": "object"}""";
        using var schema = JsonDocument.Parse(
            $$"""{"type": "object", "properties": {"name": {"enum": {{names}}}, "{{argumentsKey}}": {{arguments}}}, "required": ["name", "{{argumentsKey}}"], "additionalProperties": false}""");
        JsonSchemaPlan plan;
        try
        {
            plan = JsonSchemaPlan.Compile(schema.RootElement);
        }
        catch (ArgumentException ex)
        {
            throw new ArgumentException($"Tool '{candidates[0].Name}': its parameters schema cannot be enforced for a required call ({ex.Message})", ex);
        }
        return format switch
        {
            ToolCallFormat.Hermes => (HermesOpen + "\n", plan, "\n" + HermesClose),
            ToolCallFormat.Llama3Json => ("", plan, ""),
            _ => throw new ArgumentException("This model's chat template has no tool-call format, so a tool call cannot be required."),
        };
    }
}

/// <summary>
/// Streams an answer that may turn into tool calls: text is passed on until the format's opening appears (held back
/// while the tail could still be the start of it); from the opening on nothing more is streamed, and the calls are read
/// from the whole text at the end. A Llama 3 call is the whole answer, so there an answer that starts with <c>{</c>
/// (after blank space) is held back, and any other passes on as it comes.
/// </summary>
internal sealed class ToolCallStream
{
    private readonly StringBuilder _text = new();
    private readonly string? _opening;
    private readonly ToolCallFormat _format;
    private readonly bool _wholeAnswer;
    private int _emitted;
    private bool _calling;
    private bool _passing;

    /// <summary>
    /// A stream for calls in <paramref name="format"/> (<see cref="ToolCallFormat.None"/>: everything passes); a
    /// <paramref name="forced"/> call is never text.
    /// </summary>
    public ToolCallStream(ToolCallFormat format, bool forced = false)
    {
        _format = format;
        _opening = forced ? "" : ToolCalling.Opening(format);
        _wholeAnswer = !forced && format == ToolCallFormat.Llama3Json;
    }

    /// <summary>Everything generated so far (when there is an opening to look for).</summary>
    public string Text => _text.ToString();

    /// <summary>Adds generated text; returns what may be shown now.</summary>
    public string Push(string piece)
    {
        if (_opening is null) return piece; // no tools offered: everything streams as it comes
        _text.Append(piece);
        if (_calling) return "";
        if (_wholeAnswer)
        {
            if (_passing) return Take(_text.Length);
            var first = 0;
            while (first < _text.Length && char.IsWhiteSpace(_text[first])) first++;
            if (first == _text.Length) return ""; // only blank space so far: it may still open a call
            _calling = _text[first] == '{';
            _passing = !_calling;
            return _passing ? Take(_text.Length) : "";
        }
        // Only the text not yet shown (less than the opening's length behind) and the new piece can hold the opening.
        var from = Math.Max(0, _emitted - _opening.Length);
        var tail = _text.ToString(from, _text.Length - from);
        var at = tail.IndexOf(_opening, StringComparison.Ordinal);
        if (at >= 0)
        {
            _calling = true;
            return Take(from + at);
        }
        // Hold back a tail that could be the beginning of the opening.
        var hold = 0;
        for (var n = Math.Min(_opening.Length - 1, tail.Length); n > 0; n--)
        {
            if (tail.AsSpan(tail.Length - n).SequenceEqual(_opening.AsSpan(0, n)))
            {
                hold = n;
                break;
            }
        }
        return Take(_text.Length - hold);
    }

    /// <summary>The text not yet shown, once it is known there are no calls.</summary>
    public string Rest() => Take(_text.Length);

    /// <summary>
    /// Once there are calls: the text beside them not yet shown (between and after the calls), so that what was
    /// streamed adds up to the text an unstreamed answer has (<see cref="ToolCalling.Parse"/>).
    /// </summary>
    public string TextBesideCalls()
    {
        var all = ToolCalling.Parse(_text.ToString(), _format).Text;
        var shown = _text.ToString(0, _emitted).TrimStart();
        if (shown.Length == 0) return all;
        return all.StartsWith(shown, StringComparison.Ordinal) ? all[shown.Length..] : "";
    }

    private string Take(int upTo)
    {
        if (upTo <= _emitted) return "";
        var s = _text.ToString(_emitted, upTo - _emitted);
        _emitted = upTo;
        return s;
    }
}
