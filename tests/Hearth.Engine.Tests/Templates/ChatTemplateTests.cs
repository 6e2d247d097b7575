using System.Text.Json;
using Hearth.Engine.Templates;
using Hearth.Gguf;
using Hearth.Tests.Shared;

namespace Hearth.Engine.Tests.Templates;

/// <summary>
/// Real chat templates (as published in the models' tokenizer_config.json) against the prompt formats the
/// model cards document. Expected strings are written from those formats, not produced by this code.
/// </summary>
public sealed class ChatTemplateTests
{
    private static Dictionary<string, object?> M(string role, string content) => new() { ["role"] = role, ["content"] = content };

    private static readonly Dictionary<string, object?>[] _sysUserAssistantUser =
    [
        M("system", "You are helpful."), M("user", "Hi"), M("assistant", "Hello!"), M("user", "How are you?"),
    ];

    private static readonly Dictionary<string, object?>[] _userAssistantUser =
    [
        M("user", "Hi"), M("assistant", "Hello!"), M("user", "How are you?"),
    ];

    private const string ChatMlTemplate =
        """{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}""";

    private const string Llama2Template =
        """{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\n' + system_message + '\n<</SYS>>\n\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}""";

    private const string Llama3Template =
        """{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}""";

    private const string MistralTemplate =
        """{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}""";

    private const string GemmaTemplate =
        """{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}""";

    private const string Phi3Template =
        """{% for message in messages %}{% if message['role'] == 'system' %}{{'<|system|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'user' %}{{'<|user|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'assistant' %}{{'<|assistant|>\n' + message['content'] + '<|end|>\n'}}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% else %}{{ eos_token }}{% endif %}""";

    private const string DeepSeekTemplate =
        """{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{{ 'User: ' + message['content'] + '\n\n' }}{% elif message['role'] == 'assistant' %}{{ 'Assistant: ' + message['content'] + eos_token }}{% elif message['role'] == 'system' %}{{ message['content'] + '\n\n' }}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}""";

    private const string Qwen25Template = """
        {%- if tools %}
            {{- '<|im_start|>system\n' }}
            {%- if messages[0]['role'] == 'system' %}
                {{- messages[0]['content'] }}
            {%- else %}
                {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}
            {%- endif %}
            {{- "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>" }}
            {%- for tool in tools %}
                {{- "\n" }}
                {{- tool | tojson }}
            {%- endfor %}
            {{- "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n" }}
        {%- else %}
            {%- if messages[0]['role'] == 'system' %}
                {{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}
            {%- else %}
                {{- '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' }}
            {%- endif %}
        {%- endif %}
        {%- for message in messages %}
            {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
                {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}
            {%- elif message.role == "assistant" %}
                {{- '<|im_start|>' + message.role }}
                {%- if message.content %}
                    {{- '\n' + message.content }}
                {%- endif %}
                {%- for tool_call in message.tool_calls %}
                    {%- if tool_call.function is defined %}
                        {%- set tool_call = tool_call.function %}
                    {%- endif %}
                    {{- '\n<tool_call>\n{"name": "' }}
                    {{- tool_call.name }}
                    {{- '", "arguments": ' }}
                    {{- tool_call.arguments | tojson }}
                    {{- '}\n</tool_call>' }}
                {%- endfor %}
                {{- '<|im_end|>\n' }}
            {%- elif message.role == "tool" %}
                {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
                    {{- '<|im_start|>user' }}
                {%- endif %}
                {{- '\n<tool_response>\n' }}
                {{- message.content }}
                {{- '\n</tool_response>' }}
                {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
                    {{- '<|im_end|>\n' }}
                {%- endif %}
            {%- endif %}
        {%- endfor %}
        {%- if add_generation_prompt %}
            {{- '<|im_start|>assistant\n' }}
        {%- endif %}
        """;

    private const string ToolsHeader =
        "# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
        + """{"type": "function", "function": {"name": "get_weather", "description": "Get the weather for a city", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}"""
        + "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n";

    private static List<object?> Tools() =>
    [
        JsonDocument.Parse("""{"type":"function","function":{"name":"get_weather","description":"Get the weather for a city","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}""").RootElement,
    ];

    private static List<Dictionary<string, object?>> ToolConversation() =>
    [
        M("system", "You are helpful."),
        M("user", "What's the weather in Paris?"),
        new()
        {
            ["role"] = "assistant",
            ["content"] = "",
            ["tool_calls"] = JsonDocument.Parse("""[{"type":"function","function":{"name":"get_weather","arguments":{"city":"Paris"}}}]""").RootElement,
        },
        M("tool", "{\"temp_c\": 18, \"sky\": \"café-au-lait clouds\"}"),
    ];

    private static string Render(string template, IEnumerable<Dictionary<string, object?>> messages, bool addGenerationPrompt,
        string bos = "", string eos = "", List<object?>? tools = null, Dictionary<string, object?>? vars = null) =>
        ChatTemplate.Parse(template).Render(messages, addGenerationPrompt, bos, eos, tools, vars);

    [Fact]
    public void ChatMlFormat() => Assert.Equal(
        "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nHow are you?<|im_end|>\n<|im_start|>assistant\n",
        Render(ChatMlTemplate, _sysUserAssistantUser, addGenerationPrompt: true));

    [Fact]
    public void Llama2WithSystemPrompt() => Assert.Equal(
        "<s>[INST] <<SYS>>\nYou are helpful.\n<</SYS>>\n\nHi [/INST] Hello! </s><s>[INST] How are you? [/INST]",
        Render(Llama2Template, _sysUserAssistantUser, addGenerationPrompt: true, "<s>", "</s>"));

    [Fact]
    public void Llama2RejectsRolesThatDoNotAlternate()
    {
        var ex = Assert.Throws<ChatTemplateException>(() => Render(Llama2Template, [M("user", "a"), M("user", "b")], true, "<s>", "</s>"));
        Assert.Contains("Conversation roles must alternate", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Llama3Format() => Assert.Equal(
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are helpful.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
        + "<|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHow are you?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
        Render(Llama3Template, _sysUserAssistantUser, addGenerationPrompt: true, "<|begin_of_text|>", "<|end_of_text|>"));

    [Fact]
    public void Llama3TrimsContent() => Assert.Equal(
        "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>",
        Render(Llama3Template, [M("user", "  Hi \n")], addGenerationPrompt: false, "<|begin_of_text|>"));

    [Fact]
    public void MistralFormat() => Assert.Equal(
        "<s>[INST] Hi [/INST]Hello!</s>[INST] How are you? [/INST]",
        Render(MistralTemplate, _userAssistantUser, addGenerationPrompt: true, "<s>", "</s>"));

    [Fact]
    public void MistralRejectsSystemRole()
    {
        // Jinja evaluates the alternation check first: a system message at an odd index passes it and reaches the
        // role check; at an even index it fails alternation (as with real Jinja).
        var ex = Assert.Throws<ChatTemplateException>(() => Render(MistralTemplate, [M("user", "a"), M("system", "c")], true, "<s>", "</s>"));
        Assert.Contains("Only user and assistant roles are supported!", ex.Message, StringComparison.Ordinal);
        var alternation = Assert.Throws<ChatTemplateException>(() => Render(MistralTemplate, [M("user", "a"), M("assistant", "b"), M("system", "c")], true, "<s>", "</s>"));
        Assert.Contains("Conversation roles must alternate", alternation.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void GemmaFormat() => Assert.Equal(
        "<bos><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\nHello!<end_of_turn>\n<start_of_turn>user\nHow are you?<end_of_turn>\n<start_of_turn>model\n",
        Render(GemmaTemplate, _userAssistantUser, addGenerationPrompt: true, "<bos>", "<eos>"));

    [Fact]
    public void Phi3Format() => Assert.Equal(
        "<|system|>\nYou are helpful.<|end|>\n<|user|>\nHi<|end|>\n<|assistant|>\nHello!<|end|>\n<|user|>\nHow are you?<|end|>\n<|assistant|>\n",
        Render(Phi3Template, _sysUserAssistantUser, addGenerationPrompt: true, "<s>", "<|endoftext|>"));

    [Fact]
    public void Phi3WithoutGenerationPromptEndsWithEos() => Assert.Equal(
        "<|user|>\nHi<|end|>\n<|endoftext|>",
        Render(Phi3Template, [M("user", "Hi")], addGenerationPrompt: false, "<s>", "<|endoftext|>"));

    [Fact]
    public void DeepSeekFormat() => Assert.Equal(
        "<｜begin▁of▁sentence｜>You are helpful.\n\nUser: Hi\n\nAssistant: Hello!<｜end▁of▁sentence｜>User: How are you?\n\nAssistant:",
        Render(DeepSeekTemplate, _sysUserAssistantUser, addGenerationPrompt: true, "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"));

    [Fact]
    public void Qwen25DefaultSystemPrompt() => Assert.Equal(
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
        Render(Qwen25Template, [M("user", "Hi")], addGenerationPrompt: true));

    [Fact]
    public void Qwen25WithTools() => Assert.Equal(
        "<|im_start|>system\nYou are helpful.\n\n" + ToolsHeader
        + "<|im_start|>user\nWhat's the weather in Paris?<|im_end|>\n"
        + "<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call><|im_end|>\n"
        + "<|im_start|>user\n<tool_response>\n{\"temp_c\": 18, \"sky\": \"café-au-lait clouds\"}\n</tool_response><|im_end|>\n"
        + "<|im_start|>assistant\n",
        Render(Qwen25Template, ToolConversation(), addGenerationPrompt: true, tools: Tools()));

    private static ChatTemplate FixtureTemplate(params string[] path)
    {
        using var file = GgufFile.Open(Fixtures.File(path));
        return ChatTemplate.FromGguf(file) ?? throw new InvalidOperationException("no template");
    }

    [Theory]
    [InlineData("qwen2", "qwen2-F32_embQ4_0.gguf")]
    [InlineData("qwen3", "qwen3-F32_embQ4_0.gguf")]
    public void Qwen3FixtureTemplateWithTools(string dir, string file) => Assert.Equal(
        "<|im_start|>system\nYou are helpful.\n\n" + ToolsHeader
        + "<|im_start|>user\nWhat's the weather in Paris?<|im_end|>\n"
        + "<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call><|im_end|>\n"
        + "<|im_start|>user\n<tool_response>\n{\"temp_c\": 18, \"sky\": \"café-au-lait clouds\"}\n</tool_response><|im_end|>\n"
        + "<|im_start|>assistant\n",
        FixtureTemplate(dir, file).Render(ToolConversation(), addGenerationPrompt: true, tools: Tools()));

    [Fact]
    public void Qwen3FixtureTemplateDropsPastThinkingAndCanDisableThinking()
    {
        var template = FixtureTemplate("qwen3", "qwen3-F32_embQ4_0.gguf");
        Dictionary<string, object?>[] messages = [M("user", "Hi"), M("assistant", "<think>\nhmm\n</think>\n\nHello!"), M("user", "Bye")];
        Assert.Equal(
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n",
            template.Render(messages, true, variables: new Dictionary<string, object?> { ["enable_thinking"] = false }));
        Assert.Equal(
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n",
            template.Render(messages, true));
    }

    [Fact]
    public void Qwen3FixtureTemplateKeepsThinkingAfterTheLastQuery()
    {
        var template = FixtureTemplate("qwen3", "qwen3-F32_embQ4_0.gguf");
        Dictionary<string, object?>[] messages = [M("user", "Hi"), M("assistant", "<think>\nhmm\n</think>\n\nHello!")];
        Assert.Equal(
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\nhmm\n</think>\n\nHello!<|im_end|>\n",
            template.Render(messages, false));
    }

    [Fact]
    public void LlamaBpeFixtureTemplate() => Assert.Equal(
        "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
        FixtureTemplate("llama-bpe", "llama-bpe-F32_embQ4_0_outQ4_0.gguf").Render([M("user", "Hi")], true, "<|begin_of_text|>"));

    [Fact]
    public void RenderedPromptTokenizesWithSpecialTokens()
    {
        using var file = GgufFile.Open(Fixtures.File("qwen3", "qwen3-F32_embQ4_0.gguf"));
        var tokenizer = Hearth.Engine.Tokenization.Tokenizer.FromGguf(file);
        var prompt = ChatTemplate.FromGguf(file)!.Render([M("user", "Hi")], true);
        var ids = tokenizer.Encode(prompt, addSpecial: true, parseSpecial: true);
        Assert.Equal("<|im_start|>", tokenizer.TokenText(ids[0]));
        Assert.Equal(2, ids.Count(id => tokenizer.TokenText(id) == "<|im_start|>"));
        Assert.Equal(prompt, tokenizer.Decode(ids, unparseSpecial: true));
    }
}
