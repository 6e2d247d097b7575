using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Hearth.Privacy;

/// <summary>The first problem verification found: where, and what it means.</summary>
internal sealed record AuditProblem(string File, int Line, long? Sequence, string Message)
{
    public override string ToString() => Sequence is { } s ? $"{Path.GetFileName(File)}:{Line} (seq {s}): {Message}" : $"{Path.GetFileName(File)}:{Line}: {Message}";
}

/// <summary>Bytes after the last complete line of the last segment: an append interrupted by a crash.</summary>
internal sealed record AuditTornTail(string File, int Line, long Offset, int Length)
{
    public override string ToString() => $"{Path.GetFileName(File)}:{Line}: torn tail of {Length} bytes at offset {Offset} (an interrupted write; the entries before it verify)";
}

/// <summary>Outcome of <see cref="AuditLog.Verify"/>.</summary>
internal sealed record AuditVerifyResult(long EntriesVerified, long LastSequence, string LastHash, AuditProblem? Problem, AuditTornTail? TornTail, IReadOnlyList<string> Notes)
{
    /// <summary>True when every entry verifies and there is no torn tail.</summary>
    public bool IsValid => Problem is null && TornTail is null;
}

/// <summary>Re-derives every entry's canonical bytes and hash and checks sequence numbers, the chain, the head record
/// and retention anchors; stops at the first bad entry.</summary>
internal static class AuditVerifier
{
    private static readonly string[] Fields = ["seq", "time", "type", "data", "prev", "hash"];

    public static AuditVerifyResult Verify(string directory, bool fromLatestCheckpoint)
    {
        var notes = new List<string>();
        var segments = AuditLog.ListSegments(directory);
        var startSegment = 0;
        long startOffset = 0;
        (long Seq, string Hash)? anchor = null;
        if (fromLatestCheckpoint)
        {
            foreach (var cp in AuditLog.ReadCheckpoints(directory).Reverse())
            {
                var index = segments.FindIndex(s => Path.GetFileName(s.Path) == cp.Segment);
                if (index >= 0 && CheckpointMatches(segments[index].Path, cp.Offset, cp.Seq, cp.Hash))
                {
                    (startSegment, startOffset, anchor) = (index, cp.Offset, (cp.Seq, cp.Hash));
                    notes.Add($"verified from checkpoint seq {cp.Seq}");
                    break;
                }

                notes.Add($"checkpoint seq {cp.Seq} does not match the log; verifying from the start");
                break;
            }
        }

        long verified = 0, lastSeq = 0;
        var lastHash = AuditLog.Genesis;
        (long Seq, string Prev, string File, int Line)? first = null;
        var retentionAnchors = new List<(long Seq, string Hash)>();
        AuditProblem? problem = null;
        AuditTornTail? torn = null;

        for (var si = startSegment; si < segments.Count && problem is null; si++)
        {
            var file = segments[si].Path;
            var bytes = File.ReadAllBytes(file);
            var pos = si == startSegment ? (int)startOffset : 0;
            var line = 1 + (pos == 0 ? 0 : bytes.AsSpan(0, pos).Count((byte)'\n'));
            while (pos < bytes.Length)
            {
                var nl = Array.IndexOf(bytes, (byte)'\n', pos);
                if (nl < 0)
                {
                    if (si == segments.Count - 1)
                        torn = new AuditTornTail(file, line, pos, bytes.Length - pos);
                    else
                        problem = new AuditProblem(file, line, null, "incomplete last line in a segment that is not the newest");
                    break;
                }

                var raw = bytes.AsSpan(pos, nl + 1 - pos);
                var (entry, error) = Parse(raw);
                if (entry is null)
                {
                    problem = new AuditProblem(file, line, null, error!);
                    break;
                }

                var e = entry.Value;
                var canonical = AuditLog.Encode(e.Seq, e.Time, e.Type, e.Data, e.Prev, out var hash);
                if (hash != e.Hash)
                {
                    problem = new AuditProblem(file, line, e.Seq, "hash mismatch: the entry was modified after it was written");
                    break;
                }

                if (!raw.SequenceEqual(canonical))
                {
                    problem = new AuditProblem(file, line, e.Seq, "entry bytes are not in canonical form: the entry was modified after it was written");
                    break;
                }

                if (first is null)
                {
                    first = (e.Seq, e.Prev, file, line);
                    if (anchor is { } a && (e.Seq != a.Seq || e.Hash != a.Hash))
                    {
                        problem = new AuditProblem(file, line, e.Seq, "does not match the checkpoint index");
                        break;
                    }
                }
                else if (e.Seq != lastSeq + 1)
                {
                    problem = new AuditProblem(file, line, e.Seq, e.Seq > lastSeq + 1
                        ? $"expected seq {lastSeq + 1}: entries {lastSeq + 1}..{e.Seq - 1} were deleted or moved"
                        : $"seq {e.Seq} after seq {lastSeq}: entries were reordered or an entry was inserted");
                    break;
                }
                else if (e.Prev != lastHash)
                {
                    problem = new AuditProblem(file, line, e.Seq, $"prev hash does not match entry {lastSeq}: the entry was inserted or the chain was rewritten");
                    break;
                }

                if (e.Type == "retention" && e.Data is JsonObject rd && rd["anchor_seq"] is JsonValue s && rd["anchor_hash"] is JsonValue h)
                    retentionAnchors.Add((s.GetValue<long>(), h.GetValue<string>()));
                lastSeq = e.Seq;
                lastHash = e.Hash;
                verified++;
                pos = nl + 1;
                line++;
            }
        }

        if (problem is null && first is { } f && anchor is null && !(f.Seq == 1 && f.Prev == AuditLog.Genesis))
        {
            if (!retentionAnchors.Contains((f.Seq - 1, f.Prev)))
                problem = new AuditProblem(f.File, f.Line, f.Seq, "the log does not start at the genesis entry and no retention record accounts for the earlier entries: they were deleted");
            else
                notes.Add($"entries before seq {f.Seq} were removed by retention (recorded)");
        }

        if (problem is null && AuditLog.ReadHead(directory) is { } head)
        {
            var lastFile = segments.Count > 0 ? segments[^1].Path : Path.Combine(directory, "head");
            if (head.Seq < 0)
                notes.Add("head record is damaged (an interrupted write?); truncation at a line boundary cannot be checked");
            else if (head.Seq > lastSeq)
                problem = new AuditProblem(lastFile, 0, head.Seq, $"the log was truncated: the head record names seq {head.Seq} but the log ends at seq {lastSeq}");
            else if (head.Seq == lastSeq && head.Hash != lastHash)
                problem = new AuditProblem(lastFile, 0, head.Seq, "the last entry differs from the one the head record names: the tail was replaced");
        }
        else if (problem is null && verified > 0)
        {
            notes.Add("no head record: truncation at a line boundary cannot be checked");
        }

        return new AuditVerifyResult(verified, lastSeq, lastHash, problem, torn, notes);
    }

    private static bool CheckpointMatches(string file, long offset, long seq, string hash)
    {
        using var f = File.OpenRead(file);
        if (offset >= f.Length)
            return false;
        f.Position = offset;
        var buffer = new byte[Math.Min(64 * 1024, f.Length - offset)];
        var n = f.Read(buffer);
        var nl = Array.IndexOf(buffer, (byte)'\n', 0, n);
        if (nl < 0)
            return false;
        var (entry, _) = Parse(buffer.AsSpan(0, nl + 1));
        return entry is { } e && e.Seq == seq && e.Hash == hash;
    }

    private static ((long Seq, string Time, string Type, JsonNode Data, string Prev, string Hash)? Entry, string? Error) Parse(ReadOnlySpan<byte> raw)
    {
        try
        {
            using var doc = JsonDocument.Parse(raw.ToArray());
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                return (null, "not a JSON object");
            var names = root.EnumerateObject().Select(p => p.Name).ToArray();
            if (!names.SequenceEqual(Fields))
                return (null, "unexpected fields: " + string.Join(",", names));
            var seq = root.GetProperty("seq").GetInt64();
            var data = JsonNode.Parse(root.GetProperty("data").GetRawText())!;
            return ((seq, root.GetProperty("time").GetString()!, root.GetProperty("type").GetString()!, data, root.GetProperty("prev").GetString()!, root.GetProperty("hash").GetString()!), null);
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or FormatException or DecoderFallbackException)
        {
            return (null, "not a valid entry (" + ex.GetType().Name + "): the line was edited or damaged");
        }
    }
}
