using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text;
using Hearth.Privacy;
using Hearth.Routing;
using Microsoft.Extensions.AI;

namespace Hearth.Runtime;

/// <summary>
/// Records every request that passed the policy and the router: one hash-chained audit entry (domain, route,
/// provider, model, token counts, latency, outcome; content only as digests in HIPAA mode) and one usage record for
/// cost tracking — whether the request completed, failed or was cancelled.
/// </summary>
internal sealed class AuditChatClient(IChatClient inner, AuditLog? audit, UsageLedger? usage, Func<ChatOptions?, (string Provider, string? Model)>? resolve = null, Func<string, string?>? modelDigest = null, Action<UsageRecord>? onRecorded = null) : DelegatingChatClient(inner)
{
    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var list = messages as IReadOnlyList<ChatMessage> ?? [.. messages];
        var started = Stopwatch.GetTimestamp();
        try
        {
            var response = await base.GetResponseAsync(list, options, cancellationToken).ConfigureAwait(false);
            Record(list, options, response.ModelId, response.Usage, response.Text, Stopwatch.GetElapsedTime(started), "completed");
            return response;
        }
        catch (Exception ex)
        {
            Record(list, options, null, null, null, Stopwatch.GetElapsedTime(started), Outcome(ex));
            throw;
        }
    }

    public override IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        => Stream(messages as IReadOnlyList<ChatMessage> ?? [.. messages], options, cancellationToken);

    private async IAsyncEnumerable<ChatResponseUpdate> Stream(IReadOnlyList<ChatMessage> messages, ChatOptions? options, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var text = new StringBuilder();
        UsageDetails? usageDetails = null;
        string? modelId = null;
        var outcome = "cancelled";
        IAsyncEnumerator<ChatResponseUpdate>? e = null;
        try
        {
            e = base.GetStreamingResponseAsync(messages, options, cancellationToken).GetAsyncEnumerator(cancellationToken);
            while (true)
            {
                bool more;
                try
                {
                    more = await e.MoveNextAsync().ConfigureAwait(false);
                }
                catch (Exception ex)
                {
                    outcome = Outcome(ex);
                    throw;
                }

                if (!more)
                {
                    outcome = "completed";
                    break;
                }

                var u = e.Current;
                modelId ??= u.ModelId;
                text.Append(u.Text);
                foreach (var c in u.Contents)
                {
                    if (c is UsageContent uc)
                        usageDetails = uc.Details;
                }

                yield return u;
            }
        }
        finally
        {
            if (e is not null)
                await e.DisposeAsync().ConfigureAwait(false);
            Record(messages, options, modelId, usageDetails, text.ToString(), Stopwatch.GetElapsedTime(started), outcome);
        }
    }

    private static string Outcome(Exception ex) => ex is OperationCanceledException ? "cancelled" : "failed: " + ex.GetType().Name;

    private void Record(IReadOnlyList<ChatMessage> messages, ChatOptions? options, string? responseModel, UsageDetails? usageDetails, string? completion, TimeSpan latency, string outcome)
    {
        var props = options?.AdditionalProperties;
        var domain = props?.TryGetValue(HearthChatOptionKeys.Domain, out var d) == true ? d as string : null;
        var decision = props?.TryGetValue(RoutingChatOptionKeys.Decision, out var r) == true ? r as RouteDecision : null;
        string? provider = null, model = null;
        try
        {
            if (resolve?.Invoke(options) is { } resolved)
                (provider, model) = (resolved.Provider, resolved.Model);
        }
        catch (Exception ex) when (ex is ModelUnavailableException or PolicyRefusedException)
        {
            // The request failed for this very reason; record what it named.
        }

        provider ??= props?.TryGetValue(HearthChatOptionKeys.Provider, out var p) == true ? p as string : decision?.Provider;
        model ??= options?.ModelId ?? responseModel;
        var inputTokens = usageDetails?.InputTokenCount is { } i ? (int)i : (int?)null;
        var outputTokens = usageDetails?.OutputTokenCount is { } o ? (int)o : (int?)null;
        audit?.AppendRequest(new AuditRequestRecord
        {
            RequestId = Guid.NewGuid().ToString("N"),
            Domain = domain,
            Route = decision is null ? (domain is null ? null : "explicit") : $"{decision.Domain} (confidence {decision.Confidence:0.000}{(decision.IsFallback ? ", fallback" : "")})",
            Provider = provider ?? "embedded",
            ModelDigest = model is null ? null : modelDigest?.Invoke(model) ?? model,
            InputTokens = inputTokens,
            OutputTokens = outputTokens,
            Latency = latency,
            Decision = outcome,
            Prompt = string.Join("\n", messages.Select(m => m.Text)),
            Completion = completion,
        });
        var record = new UsageRecord(DateTimeOffset.UtcNow, provider ?? "embedded", model ?? "(unknown)", domain, inputTokens ?? 0, outputTokens ?? 0, latency.TotalSeconds, outcome);
        usage?.Append(record);
        onRecorded?.Invoke(record);
    }
}
