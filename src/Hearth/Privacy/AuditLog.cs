using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Hearth.Privacy;

/// <summary>Options of an <see cref="AuditLog"/>.</summary>
internal sealed record AuditLogOptions
{
    /// <summary>HIPAA mode: prompt and completion text is never written, only sizes and salted digests.</summary>
    public bool Hipaa { get; init; } = true;

    /// <summary>A checkpoint entry (and an index line for fast verification) every this many entries.</summary>
    public int CheckpointInterval { get; init; } = 1000;

    /// <summary>Applied to any text written outside HIPAA mode; the PHI redactor by default.</summary>
    public Func<string, string>? Redact { get; init; } = PhiRedactor.Redact;

    /// <summary>Clock, for tests.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;
}

/// <summary>What one request did, for the audit trail.</summary>
internal sealed record AuditRequestRecord
{
    public required string RequestId { get; init; }

    public string? Domain { get; init; }

    public string? Route { get; init; }

    public string? Provider { get; init; }

    public string? ModelDigest { get; init; }

    public int? InputTokens { get; init; }

    public int? OutputTokens { get; init; }

    public TimeSpan? Latency { get; init; }

    public string? Decision { get; init; }

    public string? Prompt { get; init; }

    public string? Completion { get; init; }
}

/// <summary>
/// The local, append-only audit trail: JSON Lines segments <c>audit-YYYY-MM-DD.jsonl</c> under the audit directory.
/// Each entry is <c>{"seq","time","type","data","prev","hash"}</c> in canonical form (fixed field order, object keys
/// sorted, no whitespace); <c>hash</c> is SHA-256 over the entry's canonical bytes without the <c>hash</c> field, and
/// <c>prev</c> is the previous entry's hash, so any edit, deletion, insertion or reordering breaks the chain.
/// Each append is fsynced before it returns; <c>head</c> records the last sequence number and hash so a truncation at a
/// line boundary is detected; <c>checkpoints</c> indexes every N-th entry so the tail can be verified quickly.
/// </summary>
internal sealed class AuditLog : IDisposable
{
    public const string Genesis = "0000000000000000000000000000000000000000000000000000000000000000";
    private const string HeadFile = "head";
    private const string CheckpointFile = "checkpoints";
    private const string SaltFile = "salt";

    private readonly Lock _lock = new();
    private readonly AuditLogOptions _options;
    private readonly byte[] _salt;
    private FileStream? _segment;
    private string? _segmentName;
    private long _seq;
    private string _prev = Genesis;
    private bool _disposed;

    private AuditLog(string directory, AuditLogOptions options, byte[] salt)
    {
        Directory = directory;
        _options = options;
        _salt = salt;
    }

    public string Directory { get; }

    public long LastSequence
    {
        get
        {
            lock (_lock)
                return _seq;
        }
    }

    /// <summary>Opens (creating if needed) the audit trail in <paramref name="directory"/>. A torn tail left by a crash is
    /// moved to <c>torn-SEQ.bin</c> and recorded as a <c>torn_tail</c> entry; any other damage throws.</summary>
    public static AuditLog Open(string directory, AuditLogOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        System.IO.Directory.CreateDirectory(directory);
        var log = new AuditLog(directory, options ?? new AuditLogOptions(), LoadOrCreateSalt(directory));
        var check = Verify(directory, fromLatestCheckpoint: true);
        if (check.Problem is not null)
            throw new InvalidDataException($"Audit trail in {directory} is damaged: {check.Problem}");
        log._seq = check.LastSequence;
        log._prev = check.LastHash;
        if (check.TornTail is { } torn)
            log.QuarantineTornTail(torn);
        return log;
    }

    /// <summary>Appends one entry and returns its sequence number once it is on disk.</summary>
    public long Append(string type, JsonObject data)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(type);
        ArgumentNullException.ThrowIfNull(data);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var seq = AppendLocked(type, data);
            if (_options.CheckpointInterval > 0 && seq % _options.CheckpointInterval == 0)
                WriteCheckpointLocked();
            return seq;
        }
    }

    /// <summary>Appends a request record; in HIPAA mode prompt and completion appear only as sizes and salted digests.</summary>
    public long AppendRequest(AuditRequestRecord r)
    {
        ArgumentNullException.ThrowIfNull(r);
        var data = new JsonObject { ["request_id"] = r.RequestId };
        if (r.Domain is not null)
            data["domain"] = r.Domain;
        if (r.Route is not null)
            data["route"] = r.Route;
        if (r.Provider is not null)
            data["provider"] = r.Provider;
        if (r.ModelDigest is not null)
            data["model_digest"] = r.ModelDigest;
        if (r.InputTokens is { } i)
            data["input_tokens"] = i;
        if (r.OutputTokens is { } o)
            data["output_tokens"] = o;
        if (r.Latency is { } l)
            data["latency_ms"] = Math.Round(l.TotalMilliseconds, 3);
        if (r.Decision is not null)
            data["decision"] = r.Decision;
        if (r.Prompt is not null)
            data["prompt"] = DescribeContent(r.Prompt);
        if (r.Completion is not null)
            data["completion"] = DescribeContent(r.Completion);
        return Append("request", data);
    }

    /// <summary>Sizes and a salted digest of <paramref name="text"/>; plus the redacted text outside HIPAA mode.</summary>
    public JsonObject DescribeContent(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var bytes = Encoding.UTF8.GetBytes(text);
        var d = new JsonObject
        {
            ["chars"] = text.Length,
            ["bytes"] = bytes.Length,
            ["digest"] = "hmac-sha256:" + Convert.ToHexStringLower(HMACSHA256.HashData(_salt, bytes)),
        };
        if (!_options.Hipaa)
            d["text"] = _options.Redact is null ? text : _options.Redact(text);
        return d;
    }

    /// <summary>Deletes whole segments older than <paramref name="retention"/> (never the current one) and records
    /// what was deleted, with the hash of the last deleted entry as the new anchor of the chain.</summary>
    public IReadOnlyList<string> ApplyRetention(TimeSpan retention)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var today = _options.Time.GetUtcNow().UtcDateTime.Date;
            var cutoff = today - retention;
            var segments = ListSegments(Directory);
            var doomed = new List<(string Path, DateTime Date)>();
            foreach (var s in segments)
            {
                if (s.Date < cutoff && Path.GetFileName(s.Path) != _segmentName && s != segments[^1])
                    doomed.Add(s);
            }

            if (doomed.Count == 0)
                return [];
            var (anchorSeq, anchorHash) = LastEntryOf(doomed[^1].Path);
            var names = new JsonArray();
            foreach (var d in doomed)
            {
                File.Delete(d.Path);
                names.Add(Path.GetFileName(d.Path));
            }

            AppendLocked("retention", new JsonObject
            {
                ["retention_days"] = Math.Round(retention.TotalDays, 3),
                ["deleted_segments"] = names,
                ["anchor_seq"] = anchorSeq,
                ["anchor_hash"] = anchorHash,
            });
            return doomed.Select(d => Path.GetFileName(d.Path)).ToArray();
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            _segment?.Dispose();
            _segment = null;
        }
    }

    private long AppendLocked(string type, JsonObject data)
    {
        var now = _options.Time.GetUtcNow().UtcDateTime;
        var name = SegmentName(now);
        if (_segment is null || _segmentName != name)
        {
            _segment?.Dispose();
            _segment = new FileStream(Path.Combine(Directory, name), FileMode.Append, FileAccess.Write, FileShare.Read);
            _segmentName = name;
        }

        var seq = _seq + 1;
        var line = Encode(seq, now.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture), type, data, _prev, out var hash);
        _segment.Write(line);
        _segment.Flush(flushToDisk: true);
        _seq = seq;
        _prev = hash;
        WriteHead(Directory, seq, hash);
        return seq;
    }

    private void WriteCheckpointLocked()
    {
        var before = _segmentName;
        var offset = _segment!.Position;
        var seq = AppendLocked("checkpoint", new JsonObject { ["entries"] = _seq, ["chain_hash"] = _prev });
        if (_segmentName != before)
            offset = 0;
        using var f = new FileStream(Path.Combine(Directory, CheckpointFile), FileMode.Append, FileAccess.Write);
        f.Write(Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{seq} {_prev} {_segmentName} {offset}\n")));
        f.Flush(flushToDisk: true);
    }

    private void QuarantineTornTail(AuditTornTail torn)
    {
        byte[] bytes;
        using (var f = new FileStream(torn.File, FileMode.Open, FileAccess.ReadWrite))
        {
            bytes = new byte[torn.Length];
            f.Position = torn.Offset;
            f.ReadExactly(bytes);
            f.SetLength(torn.Offset);
            f.Flush(flushToDisk: true);
        }

        var quarantine = Path.Combine(Directory, string.Create(CultureInfo.InvariantCulture, $"torn-{_seq + 1}.bin"));
        File.WriteAllBytes(quarantine, bytes);
        lock (_lock)
        {
            AppendLocked("torn_tail", new JsonObject
            {
                ["segment"] = Path.GetFileName(torn.File),
                ["offset"] = torn.Offset,
                ["bytes"] = torn.Length,
                ["sha256"] = Convert.ToHexStringLower(SHA256.HashData(bytes)),
                ["quarantine"] = Path.GetFileName(quarantine),
            });
        }
    }

    internal static string SegmentName(DateTime utc) => "audit-" + utc.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) + ".jsonl";

    internal static List<(string Path, DateTime Date)> ListSegments(string directory)
    {
        var list = new List<(string, DateTime)>();
        if (!System.IO.Directory.Exists(directory))
            return list;
        foreach (var f in System.IO.Directory.EnumerateFiles(directory, "audit-*.jsonl"))
        {
            var stem = Path.GetFileNameWithoutExtension(f)["audit-".Length..];
            if (DateTime.TryParseExact(stem, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var date))
                list.Add((f, date));
        }

        list.Sort((a, b) => a.Item2.CompareTo(b.Item2));
        return list;
    }

    /// <summary>Builds the canonical line (with trailing newline) for an entry and returns its hash.</summary>
    internal static byte[] Encode(long seq, string time, string type, JsonNode data, string prev, out string hash)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteNumber("seq", seq);
            w.WriteString("time", time);
            w.WriteString("type", type);
            w.WritePropertyName("data");
            WriteCanonical(w, data);
            w.WriteString("prev", prev);
            w.WriteEndObject();
        }

        var body = buffer.WrittenSpan;
        hash = Convert.ToHexStringLower(SHA256.HashData(body));
        var tail = Encoding.ASCII.GetBytes(",\"hash\":\"" + hash + "\"}\n");
        var line = new byte[body.Length - 1 + tail.Length];
        body[..^1].CopyTo(line);
        tail.CopyTo(line.AsSpan(body.Length - 1));
        return line;
    }

    internal static void WriteCanonical(Utf8JsonWriter w, JsonNode? node)
    {
        switch (node)
        {
            case null:
                w.WriteNullValue();
                break;
            case JsonObject o:
                w.WriteStartObject();
                foreach (var (k, v) in o.OrderBy(p => p.Key, StringComparer.Ordinal))
                {
                    w.WritePropertyName(k);
                    WriteCanonical(w, v);
                }

                w.WriteEndObject();
                break;
            case JsonArray a:
                w.WriteStartArray();
                foreach (var v in a)
                    WriteCanonical(w, v);
                w.WriteEndArray();
                break;
            default:
                node.WriteTo(w);
                break;
        }
    }

    private static byte[] LoadOrCreateSalt(string directory)
    {
        var path = Path.Combine(directory, SaltFile);
        if (File.Exists(path))
            return Convert.FromHexString(File.ReadAllText(path).Trim());
        var salt = RandomNumberGenerator.GetBytes(32);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using var f = new FileStream(path, options);
        f.Write(Encoding.ASCII.GetBytes(Convert.ToHexStringLower(salt)));
        f.Flush(flushToDisk: true);
        return salt;
    }

    private static void WriteHead(string directory, long seq, string hash)
    {
        // Fixed-width record overwritten in place: "SEQ(20) HASH(64)\n".
        using var f = new FileStream(Path.Combine(directory, HeadFile), FileMode.OpenOrCreate, FileAccess.Write);
        f.Write(Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{seq:D20} {hash}\n")));
        f.Flush(flushToDisk: true);
    }

    private static (long Seq, string Hash) LastEntryOf(string segment)
    {
        var last = File.ReadLines(segment).LastOrDefault(l => l.Length > 0) ?? throw new InvalidDataException($"{segment}: empty audit segment");
        using var doc = JsonDocument.Parse(last);
        return (doc.RootElement.GetProperty("seq").GetInt64(), doc.RootElement.GetProperty("hash").GetString()!);
    }

    /// <summary>Verifies the whole trail (or, with <paramref name="fromLatestCheckpoint"/>, from the latest checkpoint
    /// that still matches) and reports the first bad entry and any torn tail.</summary>
    public static AuditVerifyResult Verify(string directory, bool fromLatestCheckpoint = false)
        => AuditVerifier.Verify(directory, fromLatestCheckpoint);

    internal static (long Seq, string Hash)? ReadHead(string directory)
    {
        var path = Path.Combine(directory, HeadFile);
        if (!File.Exists(path))
            return null;
        var parts = File.ReadAllText(path).Trim().Split(' ');
        return parts.Length == 2 && long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var seq) && parts[1].Length == 64
            ? (seq, parts[1])
            : (-1, "");
    }

    internal static IEnumerable<(long Seq, string Hash, string Segment, long Offset)> ReadCheckpoints(string directory)
    {
        var path = Path.Combine(directory, CheckpointFile);
        if (!File.Exists(path))
            yield break;
        foreach (var line in File.ReadLines(path))
        {
            var p = line.Split(' ');
            if (p.Length == 4 && long.TryParse(p[0], NumberStyles.None, CultureInfo.InvariantCulture, out var seq) && long.TryParse(p[3], NumberStyles.None, CultureInfo.InvariantCulture, out var off))
                yield return (seq, p[1], p[2], off);
        }
    }
}
