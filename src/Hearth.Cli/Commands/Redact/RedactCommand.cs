using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using Hearth.Privacy;

namespace Hearth.Cli.Commands.Redact;

/// <summary>
/// <c>hearth redact [FILE...] [--json]</c>: the PHI redactor every Hearth log passes through (HIPAA Safe Harbor
/// identifiers that patterns and context can find), on files or standard input.
/// </summary>
internal static class RedactCommand
{
    public static Command Create(CliContext context)
    {
        var files = new Argument<FileInfo[]>("FILE") { Description = "Files to redact (default: standard input)", Arity = ArgumentArity.ZeroOrMore };
        var json = new Option<bool>("--json") { Description = "Print what was found (type, offset, length; never the identifier itself) instead of the text" };
        var command = new Command("redact", "Replace PHI identifiers (names after cues, dates, phone, email, SSN, MRN, addresses, ...) with [TYPE] tags") { files, json };
        command.SetAction(parse =>
        {
            var inputs = parse.GetValue(files) ?? [];
            var texts = new List<(string Name, string Text)>();
            if (inputs.Length == 0)
            {
                texts.Add(("-", (context.Input ?? Console.In).ReadToEnd()));
            }
            else
            {
                foreach (var f in inputs)
                {
                    if (!f.Exists)
                        throw new CliException($"file not found: {f.FullName}");
                    texts.Add((f.FullName, File.ReadAllText(f.FullName)));
                }
            }

            if (!parse.GetValue(json))
            {
                foreach (var (_, text) in texts)
                    context.Raw.Write(PhiRedactor.Redact(text));
                return 0;
            }

            var result = new JsonArray();
            foreach (var (name, text) in texts)
            {
                var spans = new JsonArray();
                foreach (var s in PhiRedactor.Find(text))
                    spans.Add(new JsonObject { ["type"] = PhiRedactor.Tag(s.Type), ["start"] = s.Start, ["length"] = s.Length });
                result.Add(new JsonObject { ["file"] = name, ["found"] = spans });
            }
            context.Raw.WriteLine(result.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        });
        return command;
    }
}
