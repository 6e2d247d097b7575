using Hearth.Gguf;

namespace Hearth.Engine.Templates;

/// <summary>
/// A chat template (<c>tokenizer.chat_template</c>): the Jinja2 subset real templates use, rendered the way
/// Hugging Face transformers renders it (<c>trim_blocks</c>, <c>lstrip_blocks</c>, <c>raise_exception</c>,
/// <c>tojson</c> without ASCII escaping). Parsed once, rendered any number of times; thread-safe.
/// </summary>
public sealed class ChatTemplate
{
    private readonly string _source;
    private readonly List<Node> _nodes;

    private ChatTemplate(string source, List<Node> nodes)
    {
        _source = source;
        _nodes = nodes;
    }

    /// <summary>The template text.</summary>
    public string Source => _source;

    /// <summary>Parses a template.</summary>
    /// <exception cref="ChatTemplateException">A syntax error or an unsupported construct (the message names it and its line and column).</exception>
    public static ChatTemplate Parse(string source)
    {
        ArgumentNullException.ThrowIfNull(source);
        return new ChatTemplate(source, TemplateParser.Parse(source));
    }

    /// <summary>The template stored in a GGUF file, or null when it has none.</summary>
    public static ChatTemplate? FromGguf(GgufFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        return file.Metadata.ChatTemplate is { } source ? Parse(source) : null;
    }

    /// <summary>
    /// Renders the prompt. <paramref name="messages"/> are mappings with at least <c>role</c> and <c>content</c>
    /// (values may be strings, numbers, booleans, lists, dictionaries or <c>System.Text.Json</c> elements, so tool
    /// calls can be passed as they arrive). <paramref name="tools"/> become the template's <c>tools</c> variable
    /// (undefined when null); <paramref name="variables"/> adds any other variables (e.g. <c>enable_thinking</c>).
    /// </summary>
    /// <exception cref="ChatTemplateException">The template failed (raise_exception, type errors...); the message says where.</exception>
    public string Render(
        IEnumerable<IReadOnlyDictionary<string, object?>> messages,
        bool addGenerationPrompt,
        string bosToken = "",
        string eosToken = "",
        IEnumerable<object?>? tools = null,
        IReadOnlyDictionary<string, object?>? variables = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var globals = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["messages"] = messages.Select(m => TemplateValues.FromClr(m)).ToList(),
            ["add_generation_prompt"] = addGenerationPrompt,
            ["bos_token"] = bosToken ?? "",
            ["eos_token"] = eosToken ?? "",
        };
        if (tools is not null) globals["tools"] = TemplateValues.FromClr(tools.ToList());
        if (variables is not null)
            foreach (var (k, v) in variables) globals[k] = TemplateValues.FromClr(v);
        try
        {
            return new TemplateInterpreter(_source, globals).Render(_nodes);
        }
        catch (InvalidCastException ex)
        {
            throw new ChatTemplateException("Chat template type error: " + ex.Message, ex);
        }
        catch (ArgumentOutOfRangeException ex)
        {
            throw new ChatTemplateException("Chat template argument error: " + ex.Message, ex);
        }
    }

    /// <summary>Renders simple role/content messages; see the full overload.</summary>
    public string Render(IEnumerable<(string Role, string Content)> messages, bool addGenerationPrompt, string bosToken = "", string eosToken = "")
    {
        ArgumentNullException.ThrowIfNull(messages);
        return Render(
            messages.Select(m => (IReadOnlyDictionary<string, object?>)new Dictionary<string, object?> { ["role"] = m.Role, ["content"] = m.Content }),
            addGenerationPrompt, bosToken, eosToken);
    }
}
