using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Hearth.Engine.Sampling;
using Hearth.Engine.Tokenization;
using Hearth.Gguf;
using Hearth.Tests.Shared;

namespace Hearth.Bench;

/// <summary>
/// What JSON mode costs on a refused step: checking every token of a vocabulary against the constraint (the scan
/// that builds the mask), best of N, for the Llama 2 (32k) and Qwen2 (152k) vocabularies, in a few typical states.
/// Run: dotnet bench/Hearth.Bench/bin/Release/net10.0/Hearth.Bench.dll json [reps=20]
/// </summary>
internal static class JsonModeBench
{
    private const string Schema = """{"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}, "tags": {"type": "array", "items": {"enum": ["a", "b"]}}}, "required": ["name", "age"], "additionalProperties": false}""";

    public static int Run(string[] args)
    {
        var reps = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 20;
        using var schema = JsonDocument.Parse(Schema);
        var plan = JsonSchemaPlan.Compile(schema.RootElement);
        foreach (var (name, path) in new[] { ("llama2 spm", new[] { "vocab", "ggml-vocab-llama-spm.gguf" }), ("qwen2 bpe", new[] { "qwen2", "qwen2-F32_embQ4_0.gguf" }) })
        {
            using var file = GgufFile.Open(Fixtures.File(path));
            var tokenizer = Tokenizer.FromGguf(file);
            foreach (var (state, prefix, withSchema) in new[]
            {
                ("inside a string", "{\"text\": \"Once upon", false),
                ("after a value", "{\"n\": 1", false),
                ("schema: a key", "{\"name\": \"Ann\", \"", true),
                ("schema: an integer", "{\"name\": \"Ann\", \"age\": 4", true),
            })
            {
                var c = new JsonConstraint(withSchema ? plan : null);
                if (!c.Accept(System.Text.Encoding.UTF8.GetBytes(prefix))) throw new InvalidOperationException(prefix);
                var best = double.MaxValue;
                var allowed = 0;
                for (var r = 0; r < reps; r++)
                {
                    var sw = Stopwatch.StartNew();
                    allowed = 0;
                    for (var t = 0; t < tokenizer.VocabSize; t++)
                    {
                        if (!tokenizer.IsControl(t) && c.CanAccept(tokenizer.TokenToPiece(t))) allowed++;
                    }
                    best = Math.Min(best, sw.Elapsed.TotalMilliseconds);
                }
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{name,-10} {tokenizer.VocabSize,7} tokens, {state,-20}: {best,6:F2} ms per scan, {allowed} allowed"));
            }
        }
        return 0;
    }
}
