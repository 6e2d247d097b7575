using System.CommandLine;
using System.Text;
using System.Text.Json;
using Hearth.Engine.Templates;
using Hearth.Engine.Tokenization;
using Hearth.Gguf;
using Spectre.Console;

namespace Hearth.Cli.Commands.Tokenize;

/// <summary>
/// <c>hearth tokenize --model FILE [--no-bos] [--special] [--json] TEXT</c> and
/// <c>hearth template (--model FILE | --template FILE) --messages FILE.json [--tools FILE.json] [--add-generation-prompt]</c>:
/// the model's own tokenizer and chat template, as the engine uses them.
/// </summary>
internal static class TokenizeCommand
{
    public static Command CreateTokenize(CliContext context)
    {
        var model = new Option<FileInfo>("--model", "-m") { Description = "GGUF file whose tokenizer to use", Required = true };
        var noBos = new Option<bool>("--no-bos") { Description = "Do not add the BOS/EOS tokens the model asks for" };
        var special = new Option<bool>("--special") { Description = "Parse special tokens written in the text (<|im_start|>, <s>...) as single tokens" };
        var json = new Option<bool>("--json") { Description = "Print a JSON array of ids" };
        var text = new Argument<string>("TEXT") { Description = "Text to tokenize" };
        var command = new Command("tokenize", "Print the token ids (and pieces) the model's tokenizer gives a text") { model, noBos, special, json, text };
        command.SetAction(parse =>
        {
            var file = RequireFile(parse.GetValue(model)!);
            using var gguf = GgufFile.Open(file);
            var tokenizer = Tokenizer.FromGguf(gguf);
            var ids = tokenizer.Encode(parse.GetValue(text)!, addSpecial: !parse.GetValue(noBos), parseSpecial: parse.GetValue(special));
            if (parse.GetValue(json))
            {
                context.Raw.WriteLine(JsonSerializer.Serialize(ids));
                return 0;
            }
            var table = new Table().Border(TableBorder.Simple).AddColumn(new TableColumn("id").RightAligned()).AddColumn("piece");
            foreach (var id in ids)
                table.AddRow(id.ToString(System.Globalization.CultureInfo.InvariantCulture), Markup.Escape(Show(tokenizer.TokenToPiece(id))));
            context.Console.Write(table);
            context.Console.MarkupLine($"{ids.Length} tokens ({Markup.Escape(tokenizer.Model)}{(tokenizer.PreTokenizer.Length > 0 ? ", pre " + Markup.Escape(tokenizer.PreTokenizer) : "")})");
            return 0;
        });
        return command;
    }

    public static Command CreateTemplate(CliContext context)
    {
        var model = new Option<FileInfo?>("--model", "-m") { Description = "GGUF file whose tokenizer.chat_template (and BOS/EOS text) to use" };
        var template = new Option<FileInfo?>("--template") { Description = "A Jinja template file instead of the model's" };
        var messages = new Option<FileInfo>("--messages") { Description = "JSON array of messages ({\"role\", \"content\", ...})", Required = true };
        var tools = new Option<FileInfo?>("--tools") { Description = "JSON array of tool definitions (the template's 'tools')" };
        var addPrompt = new Option<bool>("--add-generation-prompt") { Description = "End with the assistant turn header" };
        var command = new Command("template", "Render a conversation with the model's chat template") { model, template, messages, tools, addPrompt };
        command.Validators.Add(r =>
        {
            if (r.GetValue(model) is null && r.GetValue(template) is null)
                r.AddError("give --model FILE or --template FILE");
        });
        command.SetAction(parse =>
        {
            string source;
            string bos = "", eos = "";
            if (parse.GetValue(model) is { } m)
            {
                using var gguf = GgufFile.Open(RequireFile(m));
                var tokenizer = Tokenizer.FromGguf(gguf);
                bos = tokenizer.Bos >= 0 ? tokenizer.TokenText(tokenizer.Bos) : "";
                eos = tokenizer.Eos >= 0 ? tokenizer.TokenText(tokenizer.Eos) : "";
                source = parse.GetValue(template) is { } t ? File.ReadAllText(RequireFile(t))
                    : gguf.Metadata.ChatTemplate ?? throw new CliException($"{m.FullName} has no tokenizer.chat_template; pass --template FILE");
            }
            else
            {
                source = File.ReadAllText(RequireFile(parse.GetValue(template)!));
            }

            var list = ReadArray(parse.GetValue(messages)!, "--messages")
                .Select(e => e.ValueKind == JsonValueKind.Object
                    ? (IReadOnlyDictionary<string, object?>)e.EnumerateObject().ToDictionary(p => p.Name, p => (object?)p.Value, StringComparer.Ordinal)
                    : throw new CliException("--messages: every element must be an object with \"role\" and \"content\""))
                .ToList();
            var toolList = parse.GetValue(tools) is { } tf ? ReadArray(tf, "--tools").Select(e => (object?)e).ToList() : null;
            var rendered = ChatTemplate.Parse(source).Render(list, parse.GetValue(addPrompt), bos, eos, toolList);
            context.Raw.Write(rendered);
            return 0;
        });
        return command;
    }

    private static string RequireFile(FileInfo file) =>
        file.Exists ? file.FullName : throw new CliException($"file not found: {file.FullName}");

    private static List<JsonElement> ReadArray(FileInfo file, string option)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(RequireFile(file)));
            if (doc.RootElement.ValueKind != JsonValueKind.Array)
                throw new CliException($"{option} {file.FullName}: expected a JSON array");
            return doc.RootElement.EnumerateArray().Select(e => e.Clone()).ToList();
        }
        catch (JsonException ex)
        {
            throw new CliException($"{option} {file.FullName}: invalid JSON at line {ex.LineNumber + 1}, byte {ex.BytePositionInLine}: {ex.Message}");
        }
    }

    /// <summary>A piece for display: bytes as UTF-8 where valid, else <c>&lt;0xNN&gt;</c>; control characters escaped.</summary>
    private static string Show(ReadOnlySpan<byte> piece)
    {
        string text;
        try
        {
            text = new UTF8Encoding(false, true).GetString(piece);
        }
        catch (DecoderFallbackException)
        {
            var sb = new StringBuilder();
            foreach (var b in piece)
                sb.Append("<0x").Append(b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture)).Append('>');
            return sb.ToString();
        }
        return JsonSerializer.Serialize(text);
    }
}
