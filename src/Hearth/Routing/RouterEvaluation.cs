using System.Diagnostics;
using System.Text.Json;

namespace Hearth.Routing;

/// <summary>A query with the domain it should be routed to.</summary>
/// <param name="Text">The query.</param>
/// <param name="Domain">The expected domain (<c>general</c> for out-of-scope queries).</param>
public sealed record LabelledQuery(string Text, string Domain);

/// <summary>Precision, recall and F1 of one domain in an evaluation.</summary>
/// <param name="Domain">The domain.</param>
/// <param name="Support">How many queries were labelled with it.</param>
/// <param name="Predicted">How many queries the router sent to it.</param>
/// <param name="Precision">Correct / predicted (0 when none predicted).</param>
/// <param name="Recall">Correct / support (0 when no support).</param>
/// <param name="F1">Harmonic mean of precision and recall.</param>
public sealed record DomainMetrics(string Domain, int Support, int Predicted, double Precision, double Recall, double F1);

/// <summary>A query the router sent somewhere other than its label.</summary>
/// <param name="Text">The query.</param>
/// <param name="Expected">Its label.</param>
/// <param name="Actual">The router's choice.</param>
/// <param name="Confidence">The decision's confidence.</param>
public sealed record Misroute(string Text, string Expected, string Actual, double Confidence);

/// <summary>The result of <see cref="RouterEvaluation.Evaluate"/>.</summary>
/// <param name="Count">Queries evaluated.</param>
/// <param name="Accuracy">Share routed to their label.</param>
/// <param name="MacroF1">Mean F1 over the labels that occur in the data.</param>
/// <param name="PerDomain">Metrics per label, in <paramref name="Labels"/> order.</param>
/// <param name="Labels">Row and column order of <paramref name="Confusion"/>: the router's domains, then any other label.</param>
/// <param name="Confusion">Confusion[expected][actual] counts.</param>
/// <param name="OutOfScopePrecision">Precision of the fallback domain: routed to <c>general</c> and labelled <c>general</c>.</param>
/// <param name="OutOfScopeRecall">Recall of the fallback domain.</param>
/// <param name="LatencyP50Microseconds">Median decision time over the timed passes, measured after warm-up.</param>
/// <param name="LatencyP99Microseconds">99th-percentile decision time over the timed passes.</param>
/// <param name="DecisionsPerSecond">Decisions per second over the timed passes, one thread.</param>
/// <param name="CpuMicrosecondsPerDecision">Process CPU time of the timed passes per decision: unlike the wall-clock figures, barely affected by other processes competing for the cores.</param>
/// <param name="Misroutes">Every wrong decision.</param>
public sealed record RouterEvaluationReport(
    int Count,
    double Accuracy,
    double MacroF1,
    IReadOnlyList<DomainMetrics> PerDomain,
    IReadOnlyList<string> Labels,
    IReadOnlyList<IReadOnlyList<int>> Confusion,
    double OutOfScopePrecision,
    double OutOfScopeRecall,
    double LatencyP50Microseconds,
    double LatencyP99Microseconds,
    double DecisionsPerSecond,
    double CpuMicrosecondsPerDecision,
    IReadOnlyList<Misroute> Misroutes);

/// <summary>Evaluates a <see cref="DomainRouter"/> on labelled queries (<c>hearth route eval</c>).</summary>
public static class RouterEvaluation
{
    /// <summary>Reads a JSON Lines file of <c>{"text": ..., "domain": ...}</c> objects; blank lines are skipped.</summary>
    /// <param name="path">The file.</param>
    /// <returns>The labelled queries.</returns>
    /// <exception cref="FormatException">A line is not such an object; the message names the file and line.</exception>
    public static IReadOnlyList<LabelledQuery> ReadJsonLines(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var result = new List<LabelledQuery>();
        var lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line))
                continue;
            try
            {
                using var doc = JsonDocument.Parse(line);
                var root = doc.RootElement;
                if (root.ValueKind != JsonValueKind.Object)
                    throw new FormatException($"{path}:{lineNumber}: expected a JSON object with \"text\" and \"domain\"");
                string Field(string name)
                    => root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String && !string.IsNullOrWhiteSpace(v.GetString())
                        ? v.GetString()!
                        : throw new FormatException($"{path}:{lineNumber}: \"{name}\" must be a non-empty string");
                result.Add(new LabelledQuery(Field("text"), Field("domain")));
            }
            catch (JsonException ex)
            {
                throw new FormatException($"{path}:{lineNumber}: not valid JSON ({ex.Message})", ex);
            }
        }

        return result;
    }

    /// <summary>Decisions timed per query: the latency percentiles are over this many passes over the data.</summary>
    internal const int TimedPasses = 3;

    /// <summary>
    /// Routes every query (warm-up passes, then <see cref="TimedPasses"/> timed passes that must all decide the same)
    /// and scores the decisions against the labels.
    /// </summary>
    /// <param name="router">The router.</param>
    /// <param name="data">The labelled queries.</param>
    /// <returns>The report.</returns>
    public static RouterEvaluationReport Evaluate(DomainRouter router, IReadOnlyList<LabelledQuery> data)
    {
        ArgumentNullException.ThrowIfNull(router);
        ArgumentNullException.ThrowIfNull(data);
        if (data.Count == 0)
            throw new ArgumentException("no labelled queries to evaluate", nameof(data));
        var labels = router.Domains.Select(d => d.Name).Append(DomainRouter.FallbackDomain).Distinct(StringComparer.Ordinal).ToList();
        foreach (var q in data)
        {
            if (!labels.Contains(q.Domain))
                labels.Add(q.Domain);
        }

        var index = labels.Select((l, i) => (l, i)).ToDictionary(x => x.l, x => x.i, StringComparer.Ordinal);
        // Warm-up until tiered compilation has settled: at least two passes and half a second (at most 20 passes), so
        // the timed passes measure optimised code rather than the JIT.
        var warm = Stopwatch.StartNew();
        for (var pass = 0; pass < 20 && (pass < 2 || warm.ElapsedMilliseconds < 500); pass++)
        {
            foreach (var q in data)
                _ = router.RouteBlocking(q.Text); // an embedding router embeds each query, so its latency is in the figures
        }

        var predicted = new string[data.Count];
        var confidence = new double[data.Count];
        var ticks = new long[data.Count * TimedPasses];
        using var process = Process.GetCurrentProcess();
        var cpuStart = process.TotalProcessorTime;
        var start = Stopwatch.GetTimestamp();
        for (var pass = 0; pass < TimedPasses; pass++)
        {
            for (var i = 0; i < data.Count; i++)
            {
                var t0 = Stopwatch.GetTimestamp();
                var d = router.RouteBlocking(data[i].Text);
                ticks[pass * data.Count + i] = Stopwatch.GetTimestamp() - t0;
                if (pass == 0)
                {
                    predicted[i] = d.Domain;
                    confidence[i] = d.Confidence;
                }
                else if (!string.Equals(predicted[i], d.Domain, StringComparison.Ordinal) || confidence[i] != d.Confidence)
                {
                    throw new InvalidOperationException($"the router is not deterministic: query {i + 1} went to '{predicted[i]}' then to '{d.Domain}'");
                }
            }
        }

        var elapsed = Stopwatch.GetElapsedTime(start);
        process.Refresh();
        var cpu = process.TotalProcessorTime - cpuStart;
        var k = labels.Count;
        var confusion = new int[k][];
        for (var i = 0; i < k; i++)
            confusion[i] = new int[k];
        var correct = 0;
        var misroutes = new List<Misroute>();
        for (var i = 0; i < data.Count; i++)
        {
            confusion[index[data[i].Domain]][index[predicted[i]]]++;
            if (predicted[i] == data[i].Domain)
                correct++;
            else
                misroutes.Add(new Misroute(data[i].Text, data[i].Domain, predicted[i], Math.Round(confidence[i], 4)));
        }

        var perDomain = new List<DomainMetrics>(k);
        for (var l = 0; l < k; l++)
        {
            var tp = confusion[l][l];
            var support = confusion[l].Sum();
            var pred = confusion.Sum(row => row[l]);
            var p = pred == 0 ? 0 : (double)tp / pred;
            var r = support == 0 ? 0 : (double)tp / support;
            perDomain.Add(new DomainMetrics(labels[l], support, pred, p, r, p + r == 0 ? 0 : 2 * p * r / (p + r)));
        }

        var present = perDomain.Where(m => m.Support > 0).ToList();
        var oos = perDomain[index[DomainRouter.FallbackDomain]];
        Array.Sort(ticks);
        double Micro(long t) => t * 1e6 / Stopwatch.Frequency;
        return new RouterEvaluationReport(
            data.Count,
            (double)correct / data.Count,
            present.Average(m => m.F1),
            perDomain,
            labels,
            confusion,
            oos.Precision,
            oos.Recall,
            Micro(Percentile(ticks, 0.50)),
            Micro(Percentile(ticks, 0.99)),
            ticks.Length / Math.Max(elapsed.TotalSeconds, 1e-9),
            cpu.TotalMicroseconds / ticks.Length,
            misroutes);
    }

    private static long Percentile(long[] sorted, double p)
    {
        var rank = (int)Math.Ceiling(p * sorted.Length) - 1;
        return sorted[Math.Clamp(rank, 0, sorted.Length - 1)];
    }
}
