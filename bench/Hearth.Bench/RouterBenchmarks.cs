using BenchmarkDotNet.Attributes;
using Hearth.Configuration;
using Hearth.Routing;
using Hearth.Tests.Shared;

namespace Hearth.Bench;

/// <summary>
/// Domain router decision cost with the default domains: one decision (short and long query), and a batch of the
/// 360 evaluation queries (decisions/s = 360 / mean batch time). The router is built once in setup.
/// Run: dotnet run -c Release --project bench/Hearth.Bench -- --filter '*RouterBenchmarks*' --job short
/// </summary>
[MemoryDiagnoser]
public class RouterBenchmarks
{
    private DomainRouter _router = null!;
    private string[] _queries = [];

    [GlobalSetup]
    public void Setup()
    {
        var stats = new InMemoryModelStatsSource().SetTokensPerSecond("qwen3", 42).SetQuality("qwen3", "healthcare", 0.8);
        var (config, errors) = HearthConfigLoader.CheckText("models: { default: qwen3 }");
        if (errors.Count > 0)
            throw new InvalidOperationException(string.Join("; ", errors));
        _router = DomainRouter.Create(config, stats);
        _queries = [.. RouterEvaluation.ReadJsonLines(Path.Combine(Fixtures.RepoRoot, "samples", "router", "eval.jsonl")).Select(q => q.Text)];
    }

    /// <summary>A short query.</summary>
    [Benchmark]
    public RouteDecision ShortQuery() => _router.Route("How do I lower my cholesterol?");

    /// <summary>A long, emotional query (about 60 words).</summary>
    [Benchmark]
    public RouteDecision LongQuery() => _router.Route(
        "I'm really scared and honestly not sure what to do: my father, who is 78 and has type 2 diabetes and high blood pressure, " +
        "has been dizzy since this morning, his speech sounds a bit slurred and he can't lift his left arm properly. " +
        "Should I call an ambulance right now or wait for his GP appointment tomorrow afternoon?!");

    /// <summary>All 360 evaluation queries, one after another.</summary>
    [Benchmark(OperationsPerInvoke = 360)]
    public int Batch360()
    {
        var n = 0;
        foreach (var q in _queries)
            n += _router.Route(q).Candidates.Count;
        return n;
    }
}
