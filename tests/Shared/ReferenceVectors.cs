using System.Text.Json;

namespace Hearth.Tests.Shared;

/// <summary>One fixture JSON (format llama-cpp-reference-v1): llama.cpp's logits for each eval prompt.</summary>
internal sealed class ReferenceVectors
{
    public required string ModelFile { get; init; }
    public required IReadOnlyList<EvalCase> Eval { get; init; }

    public static ReferenceVectors Load(string jsonPath)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(jsonPath));
        var root = doc.RootElement;
        var evals = new List<EvalCase>();
        foreach (var e in root.GetProperty("eval").EnumerateArray())
        {
            var positions = e.GetProperty("positions").EnumerateArray()
                .Select(p => new TopK(Ints(p.GetProperty("ids")), Floats(p.GetProperty("logits")))).ToArray();
            var g = e.GetProperty("greedy");
            var steps = g.GetProperty("steps").EnumerateArray()
                .Select(p => new TopK(Ints(p.GetProperty("ids")), Floats(p.GetProperty("logits")))).ToArray();
            float[]? last = e.TryGetProperty("last_logits_f32le_b64", out var b64) ? Base64Floats(b64.GetString()!) : null;
            float[][]? all = e.TryGetProperty("all_logits_f32le_b64", out var allB64)
                ? allB64.EnumerateArray().Select(x => Base64Floats(x.GetString()!)).ToArray()
                : null;
            evals.Add(new EvalCase(e.GetProperty("id").GetString()!, Ints(e.GetProperty("tokens")), positions, last, all,
                Ints(g.GetProperty("tokens")), steps));
        }
        return new ReferenceVectors { ModelFile = root.GetProperty("model_file").GetString()!, Eval = evals };
    }

    public static float[] Base64Floats(string b64)
    {
        var bytes = Convert.FromBase64String(b64);
        var result = new float[bytes.Length / 4];
        Buffer.BlockCopy(bytes, 0, result, 0, bytes.Length);
        return result;
    }

    private static int[] Ints(JsonElement e) => e.EnumerateArray().Select(x => x.GetInt32()).ToArray();

    private static float[] Floats(JsonElement e) => e.EnumerateArray().Select(x => x.GetSingle()).ToArray();
}

internal sealed record TopK(int[] Ids, float[] Logits)
{
    public float Margin => Logits[0] - Logits[1];
}

internal sealed record EvalCase(string Id, int[] Tokens, TopK[] Positions, float[]? LastLogits, float[][]? AllLogits, int[] GreedyTokens, TopK[] GreedySteps);
