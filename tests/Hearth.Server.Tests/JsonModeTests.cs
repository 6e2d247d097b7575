using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Hearth.Engine.Tokenization;
using Hearth.Gguf;
using Hearth.Tests.Shared;

namespace Hearth.Server.Tests;

/// <summary>JSON mode, JSON schemas and logit bias over HTTP in both dialects, and the 400s for what the embedded engine cannot do.</summary>
public sealed class JsonModeTests
{
    private static int CloseBraceToken()
    {
        using var file = GgufFile.Open(Fixtures.Stories260K);
        var tokenizer = Tokenizer.FromGguf(file);
        return Enumerable.Range(0, tokenizer.VocabSize).Single(t => tokenizer.TokenToPiece(t).SequenceEqual("}"u8));
    }

    private static JsonObject Chat(JsonObject? extra = null, int maxTokens = 40)
    {
        var o = new JsonObject
        {
            ["model"] = TestServer.Model, ["max_tokens"] = maxTokens, ["temperature"] = 0,
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "Once upon a time" }),
        };
        foreach (var (k, v) in extra ?? [])
            o[k] = v?.DeepClone();
        return o;
    }

    private static async Task<JsonObject> Read(HttpResponseMessage r) => JsonNode.Parse(await r.Content.ReadAsStringAsync())!.AsObject();

    [Fact]
    public async Task OpenAiJsonSchemaIsEnforced()
    {
        await using var s = await TestServer.StartAsync();
        var format = JsonNode.Parse("""{"type": "json_schema", "json_schema": {"name": "cat", "strict": true, "schema": {"type": "object", "properties": {"mood": {"enum": ["happy", "sad"]}}, "required": ["mood"], "additionalProperties": false}}}""");
        using var r = await s.Http.PostAsync("/v1/chat/completions", ClientTests.Body(Chat(new JsonObject { ["response_format"] = format }, maxTokens: 60)));
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        var choice = (await Read(r))["choices"]![0]!;
        Assert.Equal("stop", (string?)choice["finish_reason"]);
        var answer = JsonNode.Parse((string)choice["message"]!["content"]!)!.AsObject();
        Assert.Contains((string?)Assert.Single(answer).Value, new[] { "happy", "sad" });
    }

    [Fact]
    public async Task OpenAiJsonObjectModeAndLogitBiasShapeTheAnswer()
    {
        await using var s = await TestServer.StartAsync();
        var close = CloseBraceToken().ToString(System.Globalization.CultureInfo.InvariantCulture);

        using (var r = await s.Http.PostAsync("/v1/chat/completions", ClientTests.Body(Chat(new JsonObject { ["response_format"] = new JsonObject { ["type"] = "json_object" } }))))
        {
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            var content = (string)(await Read(r))["choices"]![0]!["message"]!["content"]!;
            Assert.StartsWith("{", content, StringComparison.Ordinal); // the model itself never starts with a brace
        }

        // The bias makes "}" the choice once JSON allows it: the answer is "{}" and ends there, streamed or not.
        var closing = new JsonObject { ["response_format"] = new JsonObject { ["type"] = "json_object" }, ["logit_bias"] = new JsonObject { [close] = 100 } };
        using (var r = await s.Http.PostAsync("/v1/chat/completions", ClientTests.Body(Chat(closing))))
        {
            var choice = (await Read(r))["choices"]![0]!;
            Assert.Equal("{}", (string?)choice["message"]!["content"]);
            Assert.Equal("stop", (string?)choice["finish_reason"]);
        }
        var stream = Chat(closing);
        stream["stream"] = true;
        using (var r = await s.Http.PostAsync("/v1/chat/completions", ClientTests.Body(stream)))
        {
            var text = new StringBuilder();
            foreach (var line in (await r.Content.ReadAsStringAsync()).Split('\n').Where(l => l.StartsWith("data: {", StringComparison.Ordinal)))
                text.Append((string?)JsonNode.Parse(line[6..])!["choices"]![0]!["delta"]!["content"]);
            Assert.Equal("{}", text.ToString());
        }

        // Banning "}" (-100) without JSON mode: it never appears, where the bias alone would give only braces.
        using (var r = await s.Http.PostAsync("/v1/chat/completions", ClientTests.Body(Chat(new JsonObject { ["logit_bias"] = new JsonObject { [close] = -100 } }))))
            Assert.DoesNotContain("}", (string)(await Read(r))["choices"]![0]!["message"]!["content"]!, StringComparison.Ordinal);
        using (var r = await s.Http.PostAsync("/v1/chat/completions", ClientTests.Body(Chat(new JsonObject { ["logit_bias"] = new JsonObject { [close] = 100 } }, maxTokens: 5))))
            Assert.Equal("}}}}}", (string?)(await Read(r))["choices"]![0]!["message"]!["content"]);
    }

    [Theory]
    [InlineData("""{"response_format": {"type": "json_schema", "json_schema": {"name": "cat", "schema": {"type": "object", "not": {}}}}}""", "response_format", "#/not")]
    [InlineData("""{"response_format": {"type": "json_schema"}}""", "response_format", "json_schema")]
    [InlineData("""{"response_format": {"type": "xml"}}""", "response_format", "xml")]
    [InlineData("""{"logit_bias": {"abc": 1}}""", "logit_bias", "'abc'")]
    [InlineData("""{"logit_bias": {"5": 101}}""", "logit_bias.5", "between -100 and 100")]
    [InlineData("""{"logit_bias": {"5": null}}""", "logit_bias", "must be a number")]
    [InlineData("""{"logit_bias": {"99999": 1}}""", "logit_bias", "token 99999")]
    public async Task OpenAiRequestsTheEngineCannotServeGet400NamingTheParameter(string extra, string param, string message)
    {
        await using var s = await TestServer.StartAsync();
        using var r = await s.Http.PostAsync("/v1/chat/completions", ClientTests.Body(Chat(JsonNode.Parse(extra)!.AsObject())));
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        var error = (await Read(r))["error"]!;
        Assert.Equal(param, (string?)error["param"]);
        Assert.Contains(message, (string?)error["message"], StringComparison.Ordinal);
        using var ok = await s.Http.PostAsync("/v1/chat/completions", ClientTests.Body(Chat()));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
    }

    [Theory]
    [InlineData("""{"response_format": {"type": "json_schema", "json_schema": {"name": "cat", "schema": {"type": "object", "not": {}}}}}""", "#/not")]
    [InlineData("""{"response_format": {"type": "json_schema", "json_schema": {"name": "cat", "schema": {"type": "object", "properties": {"a": {"type": 7}}}}}}""", "#/properties/a/type")]
    [InlineData("""{"response_format": {"type": "json_schema", "json_schema": {"name": "cat", "schema": {"type": "object", "properties": {"a": {}}, "required": "a"}}}}""", "#/required")]
    [InlineData("""{"logit_bias": {"99999": 1}}""", "token 99999")]
    public async Task StreamedRequestsTheEngineCannotServeGet400BeforeTheStreamStarts(string extra, string message)
    {
        // The refusal comes from the engine, after the request was read: a stream must still be answered with a 400
        // JSON error, not a 200 event stream that carries it.
        await using var s = await TestServer.StartAsync();
        var body = Chat(JsonNode.Parse(extra)!.AsObject());
        body["stream"] = true;
        using var r = await s.Http.PostAsync("/v1/chat/completions", ClientTests.Body(body));
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        Assert.StartsWith("application/json", r.Content.Headers.ContentType?.MediaType, StringComparison.Ordinal);
        Assert.Contains(message, (string?)(await Read(r))["error"]!["message"], StringComparison.Ordinal);

        // Ollama streams by default.
        if (JsonNode.Parse(extra)!["response_format"]?["json_schema"]?["schema"] is { } schema)
        {
            var generate = new JsonObject { ["model"] = TestServer.Model, ["prompt"] = "Once upon a time", ["format"] = schema.DeepClone(), ["options"] = new JsonObject { ["temperature"] = 0, ["num_predict"] = 10 } };
            using var o = await s.Http.PostAsync("/api/generate", ClientTests.Body(generate));
            Assert.Equal(HttpStatusCode.BadRequest, o.StatusCode);
            Assert.Contains(message, (string?)(await Read(o))["error"], StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task OllamaFormatJsonIsJsonModeAndOtherFormatsAreNamed()
    {
        await using var s = await TestServer.StartAsync();
        var generate = new JsonObject { ["model"] = TestServer.Model, ["prompt"] = "Once upon a time", ["stream"] = false, ["format"] = "json", ["options"] = new JsonObject { ["temperature"] = 0, ["num_predict"] = 30 } };
        using (var r = await s.Http.PostAsync("/api/generate", ClientTests.Body(generate)))
        {
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.StartsWith("{", (string)(await Read(r))["response"]!, StringComparison.Ordinal);
        }

        generate["format"] = 42;
        using (var r = await s.Http.PostAsync("/api/generate", ClientTests.Body(generate)))
        {
            Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
            Assert.Contains("'format' must be \"json\" or a JSON schema object", (string?)(await Read(r))["error"], StringComparison.Ordinal);
        }

        // A schema object: the answer matches it (an integer "legs" and nothing else), or a 400 names what it cannot enforce.
        generate["format"] = JsonNode.Parse("""{"type": "object", "properties": {"legs": {"type": "integer"}}, "required": ["legs"], "additionalProperties": false}""");
        generate["options"]!["num_predict"] = 100;
        using (var r = await s.Http.PostAsync("/api/generate", ClientTests.Body(generate)))
        {
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            var answer = JsonNode.Parse((string)(await Read(r))["response"]!)!.AsObject();
            Assert.Equal("legs", Assert.Single(answer).Key);
            Assert.Equal(System.Text.Json.JsonValueKind.Number, answer["legs"]!.GetValueKind());
        }
        generate["format"] = JsonNode.Parse("""{"type": "object", "patternProperties": {"^x": {}}}""");
        using (var r = await s.Http.PostAsync("/api/generate", ClientTests.Body(generate)))
        {
            Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
            Assert.Contains("#/patternProperties", (string?)(await Read(r))["error"], StringComparison.Ordinal);
        }
    }
}
