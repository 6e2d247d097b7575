using System.Collections.Concurrent;
using System.Globalization;
using System.Text;

namespace Hearth.Server;

/// <summary>Counters and latency histograms, written in the Prometheus text exposition format.</summary>
internal sealed class ServerMetrics
{
    private static readonly double[] Buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
    private readonly ConcurrentDictionary<(string Endpoint, int Status), long> _requests = new();
    private readonly ConcurrentDictionary<string, Histogram> _latency = new(StringComparer.Ordinal);
    private long _promptTokens;
    private long _completionTokens;
    private long _rejectedFull;

    public void Request(string endpoint, int status, TimeSpan elapsed)
    {
        _requests.AddOrUpdate((endpoint, status), 1, (_, v) => v + 1);
        _latency.GetOrAdd(endpoint, _ => new Histogram()).Observe(elapsed.TotalSeconds);
    }

    public void Tokens(long prompt, long completion)
    {
        Interlocked.Add(ref _promptTokens, prompt);
        Interlocked.Add(ref _completionTokens, completion);
    }

    public void QueueFull() => Interlocked.Increment(ref _rejectedFull);

    public string Render(GenerationSlots slots, int loadedModels, long loadedBytes, (long Allowed, long Refused) egress)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        void Metric(string name, string type, string help)
            => sb.Append("# HELP ").Append(name).Append(' ').AppendLine(help).Append("# TYPE ").Append(name).Append(' ').AppendLine(type);

        Metric("hearth_requests_total", "counter", "HTTP requests by endpoint and status.");
        foreach (var ((endpoint, status), count) in _requests.OrderBy(k => k.Key.Endpoint, StringComparer.Ordinal).ThenBy(k => k.Key.Status))
            sb.Append(inv, $"hearth_requests_total{{endpoint=\"{endpoint}\",status=\"{status}\"}} {count}").AppendLine();
        Metric("hearth_request_duration_seconds", "histogram", "Request latency by endpoint (to the last byte).");
        foreach (var (endpoint, h) in _latency.OrderBy(k => k.Key, StringComparer.Ordinal))
            h.Write(sb, endpoint);
        Metric("hearth_prompt_tokens_total", "counter", "Prompt tokens processed.");
        sb.Append(inv, $"hearth_prompt_tokens_total {Interlocked.Read(ref _promptTokens)}").AppendLine();
        Metric("hearth_completion_tokens_total", "counter", "Tokens generated.");
        sb.Append(inv, $"hearth_completion_tokens_total {Interlocked.Read(ref _completionTokens)}").AppendLine();
        Metric("hearth_queue_depth", "gauge", "Requests waiting for a generation slot.");
        sb.Append(inv, $"hearth_queue_depth {slots.Waiting}").AppendLine();
        Metric("hearth_generations_running", "gauge", "Generations holding a slot.");
        sb.Append(inv, $"hearth_generations_running {slots.Running}").AppendLine();
        Metric("hearth_queue_rejected_total", "counter", "Requests refused with 429 because the queue was full.");
        sb.Append(inv, $"hearth_queue_rejected_total {Interlocked.Read(ref _rejectedFull)}").AppendLine();
        Metric("hearth_loaded_models", "gauge", "Models loaded by the embedded engine.");
        sb.Append(inv, $"hearth_loaded_models {loadedModels}").AppendLine();
        Metric("hearth_loaded_model_bytes", "gauge", "Estimated memory of the loaded models.");
        sb.Append(inv, $"hearth_loaded_model_bytes {loadedBytes}").AppendLine();
        Metric("hearth_egress_connections_total", "counter", "Outbound connections by egress guard decision.");
        sb.Append(inv, $"hearth_egress_connections_total{{decision=\"allowed\"}} {egress.Allowed}").AppendLine();
        sb.Append(inv, $"hearth_egress_connections_total{{decision=\"refused\"}} {egress.Refused}").AppendLine();
        return sb.ToString();
    }

    private sealed class Histogram
    {
        private readonly long[] _counts = new long[Buckets.Length + 1];
        private long _sumMicros;

        public void Observe(double seconds)
        {
            var i = 0;
            while (i < Buckets.Length && seconds > Buckets[i])
                i++;
            Interlocked.Increment(ref _counts[i]);
            Interlocked.Add(ref _sumMicros, (long)(seconds * 1e6));
        }

        public void Write(StringBuilder sb, string endpoint)
        {
            var inv = CultureInfo.InvariantCulture;
            long cumulative = 0;
            for (var i = 0; i < Buckets.Length; i++)
            {
                cumulative += Interlocked.Read(ref _counts[i]);
                sb.Append(inv, $"hearth_request_duration_seconds_bucket{{endpoint=\"{endpoint}\",le=\"{Buckets[i]}\"}} {cumulative}").AppendLine();
            }

            cumulative += Interlocked.Read(ref _counts[Buckets.Length]);
            sb.Append(inv, $"hearth_request_duration_seconds_bucket{{endpoint=\"{endpoint}\",le=\"+Inf\"}} {cumulative}").AppendLine();
            sb.Append(inv, $"hearth_request_duration_seconds_sum{{endpoint=\"{endpoint}\"}} {Interlocked.Read(ref _sumMicros) / 1e6}").AppendLine();
            sb.Append(inv, $"hearth_request_duration_seconds_count{{endpoint=\"{endpoint}\"}} {cumulative}").AppendLine();
        }
    }
}
