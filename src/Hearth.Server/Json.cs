using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace Hearth.Server;

/// <summary>Reads request bodies field by field, with errors that name the field and the type expected.</summary>
internal static class Json
{
    public static async Task<JsonObject> ReadObjectAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        JsonNode? node;
        try
        {
            node = await JsonNode.ParseAsync(request.Body, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (JsonException ex)
        {
            throw ApiException.BadRequest($"request body is not valid JSON (line {ex.LineNumber + 1}, byte {ex.BytePositionInLine + 1}): {ex.Message}");
        }

        return node as JsonObject ?? throw ApiException.BadRequest("request body must be a JSON object");
    }

    public static string? String(JsonObject o, string name, string? prefix = null) => o[name] switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        var other => throw Wrong(prefix, name, "a string", other),
    };

    public static string RequiredString(JsonObject o, string name, string? prefix = null)
        => String(o, name, prefix) ?? throw ApiException.BadRequest($"'{Path(prefix, name)}' is required", Path(prefix, name));

    public static double? Number(JsonObject o, string name, double min, double max, string? prefix = null)
    {
        var node = o[name];
        if (node is null)
            return null;
        if (node is not JsonValue v || v.GetValueKind() != JsonValueKind.Number)
            throw Wrong(prefix, name, "a number", node);
        var d = v.GetValue<double>();
        if (!(d >= min && d <= max))
            throw ApiException.BadRequest($"'{Path(prefix, name)}' must be between {min.ToString(CultureInfo.InvariantCulture)} and {max.ToString(CultureInfo.InvariantCulture)}; got {d.ToString(CultureInfo.InvariantCulture)}", Path(prefix, name));
        return d;
    }

    public static int? Integer(JsonObject o, string name, long min, long max, string? prefix = null)
    {
        var d = Number(o, name, min, max, prefix);
        if (d is null)
            return null;
        if (d != Math.Floor(d.Value))
            throw ApiException.BadRequest($"'{Path(prefix, name)}' must be an integer", Path(prefix, name));
        return (int)d.Value;
    }

    public static long? Long(JsonObject o, string name, string? prefix = null)
    {
        var d = Number(o, name, long.MinValue, long.MaxValue, prefix);
        return d is null ? null : (long)d.Value;
    }

    public static bool? Bool(JsonObject o, string name, string? prefix = null) => o[name] switch
    {
        null => null,
        JsonValue v when v.GetValueKind() is JsonValueKind.True or JsonValueKind.False => v.GetValue<bool>(),
        var other => throw Wrong(prefix, name, "true or false", other),
    };

    public static JsonObject? Object(JsonObject o, string name, string? prefix = null) => o[name] switch
    {
        null => null,
        JsonObject obj => obj,
        var other => throw Wrong(prefix, name, "an object", other),
    };

    public static JsonArray? Array(JsonObject o, string name, string? prefix = null) => o[name] switch
    {
        null => null,
        JsonArray a => a,
        var other => throw Wrong(prefix, name, "an array", other),
    };

    /// <summary>A string or an array of strings (OpenAI's <c>stop</c>).</summary>
    public static List<string>? Strings(JsonObject o, string name, int max, string? prefix = null)
    {
        switch (o[name])
        {
            case null:
                return null;
            case JsonValue v when v.GetValueKind() == JsonValueKind.String:
                return [v.GetValue<string>()];
            case JsonArray a:
                if (a.Count > max)
                    throw ApiException.BadRequest($"'{Path(prefix, name)}' holds at most {max} entries; got {a.Count}", Path(prefix, name));
                return [.. a.Select((e, i) => e is JsonValue ev && ev.GetValueKind() == JsonValueKind.String
                    ? ev.GetValue<string>()
                    : throw Wrong(prefix, $"{name}[{i}]", "a string", e))];
            case var other:
                throw Wrong(prefix, name, "a string or an array of strings", other);
        }
    }

    private static string Path(string? prefix, string name) => prefix is null ? name : prefix + "." + name;

    private static ApiException Wrong(string? prefix, string name, string expected, JsonNode? actual)
        => ApiException.BadRequest($"'{Path(prefix, name)}' must be {expected}; got {Kind(actual)}", Path(prefix, name));

    private static string Kind(JsonNode? node) => node switch
    {
        null => "null",
        JsonObject => "an object",
        JsonArray => "an array",
        JsonValue v => v.GetValueKind() switch
        {
            JsonValueKind.String => "a string",
            JsonValueKind.Number => "a number",
            JsonValueKind.True or JsonValueKind.False => "a boolean",
            _ => "null",
        },
        _ => "a value",
    };

    /// <summary>A request's JSON object as a detached <see cref="JsonElement"/> (schemas of response formats and tools).</summary>
    public static JsonElement Element(JsonObject value)
    {
        using var doc = JsonDocument.Parse(value.ToJsonString());
        return doc.RootElement.Clone();
    }
}
