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
        var prompt = template.Render(conversation.Select(ToolCalling.MessageForTemplate), true, tools: ToolCalling.ToolsForTemplate([Weather()]));
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
}
