using System.Text.Json;
using Hearth.Engine.Generation;
using Hearth.Engine.Templates;
using Hearth.Gguf;
using Hearth.Tests.Shared;
using Microsoft.Extensions.AI;

namespace Hearth.Engine.Tests.Generation;

/// <summary>Tool calls: the format a template uses, how calls and results are rendered, and how calls are read back.</summary>
public sealed class ToolCallingTests
{
    internal static AIFunctionDeclaration Weather() => AIFunctionFactory.CreateDeclaration("get_weather", "Get the weather for a city",
        JsonDocument.Parse("""{"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}}, "required": ["city"]}""").RootElement);

    private static string TemplateOf(params string[] path)
    {
        using var file = GgufFile.Open(Fixtures.File(path));
        return file.Metadata.ChatTemplate!;
    }

    [Fact]
    public void TheFormatComesFromTheTemplate()
    {
        Assert.Equal(ToolCallFormat.Hermes, ToolCalling.Detect(TemplateOf("qwen3", "qwen3-F32_embQ4_0.gguf")));
        Assert.Equal(ToolCallFormat.Hermes, ToolCalling.Detect(TemplateOf("qwen2", "qwen2-F32_embQ4_0.gguf")));
        Assert.Equal(ToolCallFormat.None, ToolCalling.Detect(TemplateOf("llama-bpe", "llama-bpe-F32_embQ4_0_outQ4_0.gguf"))); // no tools in it
        Assert.Equal(ToolCallFormat.None, ToolCalling.Detect(null));
        const string Llama31 = """{%- if tools is not none %}{{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}{%- endif %}<|start_header_id|>""";
        Assert.Equal(ToolCallFormat.Llama3Json, ToolCalling.Detect(Llama31));
    }

    [Fact]
    public void CallsAndResultsRenderTheWayTheQwenTemplateWritesThem()
    {
        var template = ChatTemplate.Parse(TemplateOf("qwen3", "qwen3-F32_embQ4_0.gguf"));
        ChatMessage[] conversation =
        [
            new(ChatRole.User, "Weather in Paris?"),
            new(ChatRole.Assistant, [new FunctionCallContent("call_1", "get_weather", new Dictionary<string, object?> { ["city"] = "Paris" })]),
            new(ChatRole.Tool, [new FunctionResultContent("call_1", new Dictionary<string, object?> { ["temp_c"] = 18 })]),
        ];
        var prompt = template.Render(conversation.SelectMany(ToolCalling.MessagesForTemplate), true, tools: ToolCalling.ToolsForTemplate([Weather()]));
        Assert.Contains("\"name\": \"get_weather\", \"description\": \"Get the weather for a city\"", prompt, StringComparison.Ordinal);
        Assert.Contains("<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call><|im_end|>", prompt, StringComparison.Ordinal);
        Assert.True(prompt.Contains("<|im_start|>user\n<tool_response>\n{\"temp_c\":18}\n</tool_response><|im_end|>", StringComparison.Ordinal), prompt);
        Assert.EndsWith("<|im_start|>assistant\n", prompt, StringComparison.Ordinal);
    }

    [Fact]
    public void HermesCallsAreReadBackWithTheirArgumentsAndTheTextAroundThem()
    {
        var (text, calls) = ToolCalling.Parse(
            "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": 2}}\n</tool_call>\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": \"{\\\"city\\\": \\\"Oslo\\\"}\"}\n</tool_call>",
            ToolCallFormat.Hermes);
        Assert.Equal("Let me check.", text);
        Assert.Equal(2, calls.Count);
        Assert.All(calls, c => Assert.Equal("get_weather", c.Name));
        Assert.Equal("Paris", ((JsonElement)calls[0].Arguments!["city"]!).GetString());
        Assert.Equal(2, ((JsonElement)calls[0].Arguments!["days"]!).GetInt32());
        Assert.Equal("Oslo", ((JsonElement)calls[1].Arguments!["city"]!).GetString()); // arguments written as a JSON string
        Assert.NotEqual(calls[0].CallId, calls[1].CallId);

        // Unterminated (the generation ended inside the block) still counts when its JSON is whole.
        Assert.Single(ToolCalling.Parse("<tool_call>\n{\"name\": \"f\", \"arguments\": {}}", ToolCallFormat.Hermes).Calls);
        // Broken JSON, or no name, is text.
        foreach (var broken in new[] { "<tool_call>\n{\"name\": \"f\", \"arguments\": {\n</tool_call>", "<tool_call>{\"arguments\": {}}</tool_call>", "no calls here" })
        {
            var parsed = ToolCalling.Parse(broken, ToolCallFormat.Hermes);
            Assert.Empty(parsed.Calls);
            Assert.Equal(broken, parsed.Text);
        }
    }

    [Fact]
    public void Llama3JsonCallsAreTheWholeAnswer()
    {
        var (text, calls) = ToolCalling.Parse(" {\"name\": \"get_weather\", \"parameters\": {\"city\": \"Rome\"}}", ToolCallFormat.Llama3Json);
        Assert.Equal("", text);
        Assert.Equal("Rome", ((JsonElement)Assert.Single(calls).Arguments!["city"]!).GetString());
        Assert.Empty(ToolCalling.Parse("The weather is {\"name\": 1}", ToolCallFormat.Llama3Json).Calls);
    }

    [Fact]
    public void ARequiredCallIsWrittenInTheFormatWithTheFunctionsSchema()
    {
        var (prefix, schema, suffix) = ToolCalling.Forced(ToolCallFormat.Hermes, [Weather()]);
        Assert.Equal("<tool_call>\n", prefix);
        Assert.Equal("\n</tool_call>", suffix);
        var c = new Hearth.Engine.Sampling.JsonConstraint(schema);
        Assert.False(c.CanAccept("{\"name\": \"other\""u8));
        Assert.False(c.CanAccept("{\"name\": \"get_weather\", \"arguments\": {}}"u8)); // city is required
        Assert.True(c.Accept("{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}"u8));
        Assert.True(c.IsComplete);

        var unsupported = AIFunctionFactory.CreateDeclaration("odd", null, JsonDocument.Parse("""{"type": "object", "allOf": [{}]}""").RootElement);
        var ex = Assert.Throws<ArgumentException>(() => ToolCalling.Forced(ToolCallFormat.Hermes, [unsupported]));
        Assert.Contains("'odd'", ex.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => ToolCalling.Forced(ToolCallFormat.None, [Weather()]));
    }

    // Parameters a tiny random model finishes quickly (an enum and an integer); a free string could run to the token limit.
    internal static AIFunctionDeclaration Forecast() => AIFunctionFactory.CreateDeclaration("get_forecast", "Forecast for a city",
        JsonDocument.Parse("""{"type": "object", "properties": {"city": {"enum": ["Paris", "Oslo"]}, "days": {"type": "integer"}}, "required": ["city", "days"]}""").RootElement);

    private static EngineChatClient Qwen() => EngineChatClient.Open(Fixtures.File("qwen3", "qwen3-F32_embQ4_0.gguf"), new EngineOptions { Threads = 1 });

    [Fact]
    public async Task ARequiredCallComesBackAsAFunctionCallStreamedOrNot()
    {
        using var client = Qwen();
        ChatMessage[] messages = [new(ChatRole.User, "What's the weather in Paris?")];
        var options = new ChatOptions { Temperature = 0, MaxOutputTokens = 120, Tools = [Weather(), Forecast()], ToolMode = ChatToolMode.RequireSpecific("get_forecast") };
        var response = await client.GetResponseAsync(messages, options);
        Assert.Equal(ChatFinishReason.ToolCalls, response.FinishReason);
        var call = Assert.Single(response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>());
        Assert.Equal("get_forecast", call.Name);
        Assert.Contains(((JsonElement)call.Arguments!["city"]!).GetString(), new[] { "Paris", "Oslo" });
        Assert.Equal(JsonValueKind.Number, ((JsonElement)call.Arguments["days"]!).ValueKind);
        Assert.Equal("", response.Text);

        var updates = new List<ChatResponseUpdate>();
        await foreach (var u in client.GetStreamingResponseAsync(messages, options))
            updates.Add(u);
        Assert.Equal("", string.Concat(updates.Select(u => u.Text))); // the call's JSON is not streamed as text
        var streamed = Assert.Single(updates.SelectMany(u => u.Contents).OfType<FunctionCallContent>());
        Assert.Equal(call.Name, streamed.Name);
        Assert.Equal(((JsonElement)call.Arguments["city"]!).GetString(), ((JsonElement)streamed.Arguments!["city"]!).GetString());
        Assert.Equal(ChatFinishReason.ToolCalls, updates.Last().FinishReason);
    }

    [Fact]
    public async Task FunctionInvocationRunsTheCalledFunctionAndSendsItsResultBack()
    {
        // Microsoft.Extensions.AI's agent loop on the embedded engine: the required call is invoked with the model's
        // arguments, its result goes back in a tool message, and the model answers.
        using var client = Qwen();
        var calls = new List<int>();
        var function = AIFunctionFactory.Create((int days) => { calls.Add(days); return $"sunny for {days} days"; }, "get_forecast", "Forecast for the next days");
        using var agent = new ChatClientBuilder(client).UseFunctionInvocation().Build();
        var response = await agent.GetResponseAsync([new ChatMessage(ChatRole.User, "What's the weather in Paris?")],
            new ChatOptions { Temperature = 0, MaxOutputTokens = 60, Tools = [function], ToolMode = ChatToolMode.RequireAny });
        Assert.Single(calls);
        var result = Assert.Single(response.Messages.SelectMany(m => m.Contents).OfType<FunctionResultContent>());
        Assert.Equal($"sunny for {calls[0]} days", result.Result?.ToString());
        Assert.Equal(ChatRole.Assistant, response.Messages[^1].Role);
    }

    [Fact]
    public async Task ToolsAreRefusedWhereTheModelCannotTakeThemAndIgnoredWhenTheModeIsNone()
    {
        using (var stories = EngineChatClient.Open(Fixtures.Stories260K, new EngineOptions { Threads = 1 }))
        {
            var ex = await Assert.ThrowsAsync<ArgumentException>(() => stories.GetResponseAsync("Hi", new ChatOptions { Tools = [Weather()] }));
            Assert.Contains("does not support tools", ex.Message, StringComparison.Ordinal);
            var none = await stories.GetResponseAsync("Once upon a time", new ChatOptions { Temperature = 0, MaxOutputTokens = 5, Tools = [Weather()], ToolMode = ChatToolMode.None });
            Assert.NotEqual("", none.Text);
        }
        using var qwen = Qwen();
        var unknown = await Assert.ThrowsAsync<ArgumentException>(() => qwen.GetResponseAsync("Hi",
            new ChatOptions { Tools = [Weather()], ToolMode = ChatToolMode.RequireSpecific("book_flight") }));
        Assert.Contains("'book_flight' is not among the tools (get_weather)", unknown.Message, StringComparison.Ordinal);
        Assert.Equal("options", unknown.ParamName);
        // A call required with nothing to call was answered as text, as if no call had been asked for.
        var nothing = await Assert.ThrowsAsync<ArgumentException>(() => qwen.GetResponseAsync("Hi", new ChatOptions { MaxOutputTokens = 2, ToolMode = ChatToolMode.RequireAny }));
        Assert.Contains("no functions are offered", nothing.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TheStreamHoldsBackTheOpeningAndWhatFollowsIt()
    {
        var stream = new ToolCallStream(ToolCallFormat.Hermes);
        Assert.Equal("Let me ", stream.Push("Let me "));
        Assert.Equal("check", stream.Push("check<tool"));   // "<tool" could start the opening
        Assert.Equal("", stream.Push("_call>\n{\"name\""));
        Assert.Equal("", stream.Push(": \"f\"}"));
        Assert.Equal("Let me check<tool_call>\n{\"name\": \"f\"}", stream.Text);

        var plain = new ToolCallStream(ToolCallFormat.Hermes);
        Assert.Equal("a ", plain.Push("a <to"));
        Assert.Equal("<tob", plain.Push("b"));               // not the opening after all
        Assert.Equal("", plain.Push("<"));
        Assert.Equal("<", plain.Rest());
    }

    // The conversation in the OpenAI shape, as the templates were written for (and ChatTemplateTests renders).
    private static Dictionary<string, object?> Wire(string role, string content, string? calls = null, string? id = null)
    {
        var m = new Dictionary<string, object?> { ["role"] = role, ["content"] = content };
        if (calls is not null) m["tool_calls"] = JsonDocument.Parse(calls).RootElement.Clone();
        if (id is not null) m["tool_call_id"] = id;
        return m;
    }

    [Fact]
    public void AHistoryWithCallsAndResultsRendersExactlyAsTheOpenAiShapeDoes()
    {
        var template = ChatTemplate.Parse(TemplateOf("qwen3", "qwen3-F32_embQ4_0.gguf"));
        var tools = ToolCalling.ToolsForTemplate([Weather()]);
        // Microsoft.Extensions.AI's function-invocation loop sends the results of parallel calls as ONE tool message.
        ChatMessage[] conversation =
        [
            new(ChatRole.System, "You are helpful."),
            new(ChatRole.User, "Weather in Paris and Oslo?"),
            new(ChatRole.Assistant,
            [
                new TextContent("Checking."),
                new FunctionCallContent("c1", "get_weather", new Dictionary<string, object?> { ["city"] = "Paris" }),
                new FunctionCallContent("c2", "get_weather", new Dictionary<string, object?> { ["city"] = "Oslo" }),
            ]),
            new(ChatRole.Tool, [new FunctionResultContent("c1", "sunny"), new FunctionResultContent("c2", "rain")]),
        ];
        Dictionary<string, object?>[] wire =
        [
            Wire("system", "You are helpful."),
            Wire("user", "Weather in Paris and Oslo?"),
            Wire("assistant", "Checking.", """[{"type":"function","id":"c1","function":{"name":"get_weather","arguments":{"city":"Paris"}}},{"type":"function","id":"c2","function":{"name":"get_weather","arguments":{"city":"Oslo"}}}]"""),
            Wire("tool", "sunny", id: "c1"),
            Wire("tool", "rain", id: "c2"),
        ];
        var expected = template.Render(wire, true, tools: tools);
        Assert.Contains("<|im_start|>user\n<tool_response>\nsunny\n</tool_response>\n<tool_response>\nrain\n</tool_response><|im_end|>", expected, StringComparison.Ordinal);
        Assert.Equal(expected, template.Render(conversation.SelectMany(ToolCalling.MessagesForTemplate), true, tools: tools));
    }

    [Fact]
    public void ARequiredCallsArgumentsAreAnObjectEvenWhenTheParametersSchemaSaysNothing()
    {
        // An empty schema ({}: "anything"; what a declaration without a schema has) let JSON mode write arguments
        // that are not an object, which Parse then read as text: the required call came back as no call.
        foreach (var parameters in new[] { "{}", """{"description": "no type"}""", """{"properties": {"city": {"type": "string"}}}""" })
        {
            var f = AIFunctionFactory.CreateDeclaration("f", null, JsonDocument.Parse(parameters).RootElement);
            var c = new Hearth.Engine.Sampling.JsonConstraint(ToolCalling.Forced(ToolCallFormat.Hermes, [f]).Schema);
            Assert.False(c.CanAccept("{\"name\": \"f\", \"arguments\": 5"u8), parameters);
            Assert.False(c.CanAccept("{\"name\": \"f\", \"arguments\": \"x"u8), parameters);
            Assert.True(c.Accept("{\"name\": \"f\", \"arguments\": {}}"u8), parameters);
        }
    }

    [Fact]
    public void ARequiredCallKeepsTheLocalReferencesOfItsParametersSchema()
    {
        // "#/$defs/..." points into the parameters schema, not into the call's schema it is put inside.
        var f = AIFunctionFactory.CreateDeclaration("book", null, JsonDocument.Parse("""
            {"type": "object", "properties": {"from": {"$ref": "#/$defs/city"}, "to": {"$ref": "#/properties/from"}},
             "required": ["from", "to"], "$defs": {"city": {"enum": ["Paris", "Oslo"]}}}
            """).RootElement);
        var c = new Hearth.Engine.Sampling.JsonConstraint(ToolCalling.Forced(ToolCallFormat.Hermes, [f]).Schema);
        Assert.False(c.CanAccept("{\"name\": \"book\", \"arguments\": {\"from\": \"Rome\""u8));
        Assert.False(c.CanAccept("{\"name\": \"book\", \"arguments\": {\"from\": \"Paris\", \"to\": \"Rome\""u8));
        Assert.True(c.Accept("{\"name\": \"book\", \"arguments\": {\"from\": \"Paris\", \"to\": \"Oslo\"}}"u8));
        Assert.True(c.IsComplete);
        // The exporter Microsoft.Extensions.AI uses writes such references for a recursive type ("#/properties/...").
        var generated = AIFunctionFactory.Create((Folder root) => root.Name, "mkdir");
        Assert.Contains("\"$ref\":\"#", generated.JsonSchema.GetRawText(), StringComparison.Ordinal);
        var g = new Hearth.Engine.Sampling.JsonConstraint(ToolCalling.Forced(ToolCallFormat.Hermes, [generated]).Schema);
        Assert.True(g.Accept("{\"name\": \"mkdir\", \"arguments\": {\"root\": {\"name\": \"a\", \"children\": [{\"name\": \"b\", \"children\": null}]}}}"u8), generated.JsonSchema.GetRawText());
        Assert.True(g.IsComplete);
    }

    internal sealed record Folder(string Name, Folder[]? Children);

    [Fact]
    public async Task ARequiredCallCutOffByTheTokenLimitIsNotReturnedAsText()
    {
        // The model was made to write the call's JSON; a fragment of it is not something the model said.
        using var client = Qwen();
        ChatMessage[] messages = [new(ChatRole.User, "What's the weather in Paris?")];
        var options = new ChatOptions { Temperature = 0, MaxOutputTokens = 3, Tools = [Weather(), Forecast()], ToolMode = ChatToolMode.RequireSpecific("get_forecast") };
        var response = await client.GetResponseAsync(messages, options);
        Assert.Equal(ChatFinishReason.Length, response.FinishReason);
        Assert.Empty(response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>());
        Assert.Equal("", response.Text);

        var updates = new List<ChatResponseUpdate>();
        await foreach (var u in client.GetStreamingResponseAsync(messages, options))
            updates.Add(u);
        Assert.Equal("", string.Concat(updates.Select(u => u.Text)));
        Assert.Equal(ChatFinishReason.Length, updates.Last().FinishReason);
    }

    [Fact]
    public async Task MessagesTheTemplateRefusesAreAnArgumentError()
    {
        // Templates raise_exception on messages they cannot render (roles that do not alternate, Llama 3.1's "only
        // single tool-calls"): that was a ChatTemplateException, a 500 over HTTP, not a 400 naming the messages.
        var dir = Directory.CreateTempSubdirectory("hearth-tools-");
        try
        {
            const string Template = "{% for m in messages %}{% if (m.role == 'user') != (loop.index0 % 2 == 0) %}"
                + "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{{ m.content }}{% endfor %}";
            var path = TestModels.StoriesWith(Path.Combine(dir.FullName, "alternating.gguf"), ("tokenizer.chat_template", GgufValue.FromString(Template)));
            using var client = EngineChatClient.Open(path, new EngineOptions { Threads = 1 });
            ChatMessage[] twoUsers = [new(ChatRole.User, "Once"), new(ChatRole.User, "upon")];
            var ex = await Assert.ThrowsAsync<ArgumentException>(() => client.GetResponseAsync(twoUsers, new ChatOptions { MaxOutputTokens = 2 }));
            Assert.Contains("Conversation roles must alternate", ex.Message, StringComparison.Ordinal);
            Assert.Equal("messages", ex.ParamName);
            var streamed = await Assert.ThrowsAsync<ArgumentException>(async () =>
            {
                await foreach (var _ in client.GetStreamingResponseAsync(twoUsers, new ChatOptions { MaxOutputTokens = 2 })) { }
            });
            Assert.Equal("messages", streamed.ParamName);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void TheLlama3StreamHoldsBackAnAnswerThatStartsAsJson()
    {
        // A Llama 3 call is the whole answer: "{ \"name\"" or "{\"type\": \"function\", \"name\"" is one too, and
        // must not be streamed as text before it comes back as a call.
        foreach (var answer in new[] { "{ \"name\": \"f\", \"parameters\": {}}", "\n{\"type\": \"function\", \"name\": \"f\", \"parameters\": {}}" })
        {
            var stream = new ToolCallStream(ToolCallFormat.Llama3Json);
            var shown = string.Concat(answer.Chunk(3).Select(p => stream.Push(new string(p))));
            Assert.Single(ToolCalling.Parse(stream.Text, ToolCallFormat.Llama3Json).Calls);
            Assert.Equal("", shown);
        }
        var text = new ToolCallStream(ToolCallFormat.Llama3Json);
        Assert.Equal("", text.Push("  "));
        Assert.Equal("  The answer {\"name\"", text.Push("The answer {\"name\""));   // not at the start: text, as Parse reads it
        Assert.Equal(" is 4.", text.Push(" is 4."));
        Assert.Equal("", text.Rest());
    }

    [Fact]
    public void TextAfterTheCallsIsStreamedAtTheEndAsItIsReturnedUnstreamed()
    {
        var answer = "Let me check.<tool_call>\n{\"name\": \"f\", \"arguments\": {}}\n</tool_call>\nThen I will tell you.";
        var stream = new ToolCallStream(ToolCallFormat.Hermes);
        var shown = string.Concat(answer.Chunk(4).Select(p => stream.Push(new string(p))));
        Assert.Equal("Let me check.", shown);
        Assert.Equal("\nThen I will tell you.", stream.TextBesideCalls());
        Assert.Equal(shown + stream.TextBesideCalls(), ToolCalling.Parse(answer, ToolCallFormat.Hermes).Text);
    }
}
