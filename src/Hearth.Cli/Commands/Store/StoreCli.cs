using System.Globalization;
using System.Text.Json.Serialization;
using Hearth.Configuration;
using Hearth.Privacy;
using Hearth.Store;
using Spectre.Console;

namespace Hearth.Cli.Commands.Store;

/// <summary>What the store verbs share: opening the configured store, sizes, progress display.</summary>
internal static class StoreCli
{
    public static (HearthConfig Config, ModelStore Store) Open(CliContext context)
    {
        var config = CliConfig.Load(context, null);
        return (config, ModelStore.Open(config));
    }

    /// <summary>The audit trail for egress decisions of a pull, unless the configuration disables it.</summary>
    public static AuditLog? OpenAudit(HearthConfig config)
        => config.Healthcare.AuditTrail == AuditTrailMode.Disabled ? null : AuditLog.Open(config.AuditDirectory);

    public static string Bytes(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        double value = bytes;
        var unit = 0;
        while (value >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }

        return unit == 0 ? $"{bytes} B" : string.Create(CultureInfo.InvariantCulture, $"{value:0.0} {units[unit]}");
    }

    /// <summary>
    /// Runs <paramref name="work"/> with a progress display: a Spectre progress bar (size, speed, ETA) on an interactive
    /// terminal, else a plain line on stderr per file at most once a second and when it completes.
    /// </summary>
    public static async Task<T> WithProgressAsync<T>(CliContext context, Func<Action<DownloadProgress>, Action<string>, Task<T>> work)
    {
        if (context.Error.Profile.Capabilities.Interactive && context.Error.Profile.Capabilities.Ansi)
        {
            T result = default!;
            await context.Error.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(), new TransferSpeedColumn(), new RemainingTimeColumn())
                .StartAsync(async ctx =>
                {
                    var tasks = new Dictionary<string, ProgressTask>(StringComparer.Ordinal);
                    result = await work(p =>
                    {
                        lock (tasks)
                        {
                            if (!tasks.TryGetValue(p.Label, out var task))
                                tasks[p.Label] = task = ctx.AddTask(Markup.Escape(p.Label), maxValue: Math.Max(1, p.Total ?? p.Received));
                            if (p.Total is { } total)
                                task.MaxValue = Math.Max(1, total);
                            task.Value = p.Received;
                        }
                    }, _ => { });
                });
            return result;
        }

        var writer = context.Error.Profile.Out.Writer;
        var last = new Dictionary<string, DateTime>(StringComparer.Ordinal);
        return await work(p =>
        {
            lock (last)
            {
                var now = DateTime.UtcNow;
                var done = p.Total is { } t && p.Received >= t;
                if (!done && last.TryGetValue(p.Label, out var at) && now - at < TimeSpan.FromSeconds(1))
                    return;
                last[p.Label] = now;
                var pct = p.Total is { } total && total > 0 ? string.Create(CultureInfo.InvariantCulture, $"{100.0 * p.Received / total:0}% ") : "";
                writer.WriteLine($"{p.Label}: {pct}{Bytes(p.Received)}{(p.Total is { } tt ? " of " + Bytes(tt) : "")}");
            }
        }, line => writer.WriteLine(line));
    }
}

/// <summary>JSON shape of one model in <c>hearth list --json</c> and <c>hearth show --json</c>.</summary>
internal sealed record ModelInfo(
    string Name,
    long Size,
    string? Quantization,
    string? Architecture,
    long? Parameters,
    string Source,
    string SourceKind,
    DateTimeOffset PulledAt,
    DateTimeOffset? LastUsed,
    string Path,
    IReadOnlyList<LayerInfo> Layers,
    IReadOnlyDictionary<string, string> Metadata)
{
    public static ModelInfo From(ModelStore store, ModelManifest m)
        => new(m.Reference, m.Size, m.FileType, m.Architecture, m.Parameters, m.Source.Location, m.Source.Kind, m.PulledAt, m.LastUsed,
            m.ModelLayers.Select(store.LayerPath).FirstOrDefault() ?? "",
            m.Layers.Select(l => new LayerInfo(l.Role, l.Digest, l.Size, l.FileName, store.LayerPath(l), l.ExternalPath is not null)).ToList(),
            m.Metadata);
}

internal sealed record LayerInfo(string Role, string Digest, long Size, string? FileName, string Path, bool External);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[JsonSerializable(typeof(ModelInfo))]
[JsonSerializable(typeof(List<ModelInfo>))]
internal sealed partial class StoreCliJsonContext : JsonSerializerContext;
