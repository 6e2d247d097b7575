using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Hearth.Privacy;

namespace Hearth.Tests.Privacy;

public sealed class AuditLogTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("hearth-audit-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private sealed class ManualTime(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = now;

        public override DateTimeOffset GetUtcNow() => Now;
    }

    /// <summary>The logs these tests write keep one clock reading: segments are per UTC day, and a run that crossed
    /// midnight would otherwise write two and break <see cref="Segment"/> and the line numbers the tests edit.</summary>
    private readonly ManualTime _clock = new(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));

    private string Segment => Directory.EnumerateFiles(_dir, "audit-*.jsonl").Single();

    private void Write(int count, AuditLogOptions? options = null)
    {
        using var log = AuditLog.Open(_dir, (options ?? new AuditLogOptions()) with { Time = _clock });
        for (var i = 0; i < count; i++)
            log.Append("test", new JsonObject { ["i"] = i, ["note"] = "entry " + i });
    }

    [Fact]
    public void FreshLogVerifies()
    {
        Write(10);
        var r = AuditLog.Verify(_dir);
        Assert.True(r.IsValid, r.Problem?.ToString());
        Assert.Equal(10, r.EntriesVerified);
        Assert.Equal(10, r.LastSequence);
    }

    [Fact]
    public void ReopenContinuesTheChain()
    {
        Write(3);
        Write(2);
        var r = AuditLog.Verify(_dir);
        Assert.True(r.IsValid, r.Problem?.ToString());
        Assert.Equal(5, r.LastSequence);
    }

    [Fact]
    public void ByteFlipIsFound()
    {
        Write(6);
        var bytes = File.ReadAllBytes(Segment);
        var lines = File.ReadAllLines(Segment);
        var offset = lines.Take(3).Sum(l => l.Length + 1) + lines[3].IndexOf("entry 3", StringComparison.Ordinal) + 6;
        bytes[offset] = (byte)'9';
        File.WriteAllBytes(Segment, bytes);
        var r = AuditLog.Verify(_dir);
        Assert.False(r.IsValid);
        Assert.Equal(4, r.Problem!.Line);
        Assert.Equal(4, r.Problem.Sequence);
        Assert.Contains("hash mismatch", r.Problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ByteFlipThatBreaksJsonIsFound()
    {
        Write(4);
        var bytes = File.ReadAllBytes(Segment);
        var second = Array.IndexOf(bytes, (byte)'\n') + 1;
        bytes[second] = (byte)'[';
        File.WriteAllBytes(Segment, bytes);
        var r = AuditLog.Verify(_dir);
        Assert.Equal(2, r.Problem!.Line);
    }

    [Fact]
    public void DeletedLineIsFound()
    {
        Write(6);
        var lines = File.ReadAllLines(Segment).ToList();
        lines.RemoveAt(2);
        File.WriteAllText(Segment, string.Join('\n', lines) + "\n");
        var r = AuditLog.Verify(_dir);
        Assert.Equal(3, r.Problem!.Line);
        Assert.Equal(4, r.Problem.Sequence);
        Assert.Contains("deleted", r.Problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SwappedLinesAreFound()
    {
        Write(6);
        var lines = File.ReadAllLines(Segment);
        (lines[3], lines[4]) = (lines[4], lines[3]);
        File.WriteAllText(Segment, string.Join('\n', lines) + "\n");
        var r = AuditLog.Verify(_dir);
        Assert.Equal(4, r.Problem!.Line);
        Assert.Equal(5, r.Problem.Sequence);
    }

    [Fact]
    public void InsertedLineIsFound()
    {
        Write(5);
        var lines = File.ReadAllLines(Segment).ToList();
        // A well-formed, correctly hashed forgery that claims seq 3 but chains to nothing real.
        var forged = Encoding.UTF8.GetString(AuditLog.Encode(3, "2026-01-01T00:00:00.0000000Z", "test", new JsonObject { ["i"] = 99 }, new string('a', 64), out _)).TrimEnd('\n');
        lines.Insert(2, forged);
        File.WriteAllText(Segment, string.Join('\n', lines) + "\n");
        var r = AuditLog.Verify(_dir);
        Assert.Equal(3, r.Problem!.Line);
        Assert.Contains("inserted", r.Problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TruncationAtLineBoundaryIsFound()
    {
        Write(6);
        var lines = File.ReadAllLines(Segment);
        File.WriteAllText(Segment, string.Join('\n', lines.Take(4)) + "\n");
        var r = AuditLog.Verify(_dir);
        Assert.Contains("truncated", r.Problem!.Message, StringComparison.Ordinal);
        Assert.Equal(4, r.EntriesVerified);
    }

    [Fact]
    public void TornTailIsReportedAndQuarantinedOnOpen()
    {
        Write(5);

        // A crash in the middle of appending entry 6: half its bytes reached the disk, the head still names entry 5.
        var partial = AuditLog.Encode(6, "2026-01-01T00:00:00.0000000Z", "test", new JsonObject { ["i"] = 6 }, new string('0', 64), out _);
        using (var f = new FileStream(Segment, FileMode.Append))
            f.Write(partial, 0, partial.Length / 2);
        var r = AuditLog.Verify(_dir);
        Assert.False(r.IsValid);
        Assert.Null(r.Problem);
        Assert.NotNull(r.TornTail);
        Assert.Equal(6, r.TornTail!.Line);
        Assert.Equal(partial.Length / 2, r.TornTail.Length);
        Assert.Equal(5, r.EntriesVerified);

        using (var log = AuditLog.Open(_dir, new AuditLogOptions { Time = _clock }))
            log.Append("test", new JsonObject { ["after"] = true });
        var after = AuditLog.Verify(_dir);
        Assert.True(after.IsValid, after.Problem?.ToString());
        var types = File.ReadLines(Segment).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("type").GetString()).ToArray();
        Assert.Equal("torn_tail", types[^2]);
        Assert.Single(Directory.EnumerateFiles(_dir, "torn-*.bin"));
    }

    [Fact]
    public void HipaaModeWritesNoContentText()
    {
        using (var log = AuditLog.Open(_dir, new AuditLogOptions { Hipaa = true, Time = _clock }))
            log.AppendRequest(new AuditRequestRecord { RequestId = "r1", Domain = "healthcare", Prompt = "Patient John Smith has chest pain", Completion = "Call 911 now", InputTokens = 9, OutputTokens = 4, Latency = TimeSpan.FromMilliseconds(12.5) });
        var text = File.ReadAllText(Segment);
        // Digests, chain hashes and the timestamp may contain "911" by chance (a clock reading of 59.4491108 s did):
        // look only at the entry's data, with the salted hex digests taken out.
        var dataText = JsonDocument.Parse(text).RootElement.GetProperty("data").GetRawText();
        var withoutHex = System.Text.RegularExpressions.Regex.Replace(dataText, "[0-9a-f]{32,}", "");
        Assert.DoesNotContain("John", withoutHex, StringComparison.Ordinal);
        Assert.DoesNotContain("chest", withoutHex, StringComparison.Ordinal);
        Assert.DoesNotContain("911", withoutHex, StringComparison.Ordinal);
        var data = JsonDocument.Parse(text).RootElement.GetProperty("data");
        Assert.Equal(33, data.GetProperty("prompt").GetProperty("chars").GetInt32());
        Assert.StartsWith("hmac-sha256:", data.GetProperty("prompt").GetProperty("digest").GetString(), StringComparison.Ordinal);
        Assert.False(data.GetProperty("prompt").TryGetProperty("text", out _));
        Assert.Equal(9, data.GetProperty("input_tokens").GetInt32());
    }

    [Fact]
    public void NonHipaaModeWritesRedactedText()
    {
        using (var log = AuditLog.Open(_dir, new AuditLogOptions { Hipaa = false, Redact = t => t.Replace("John Smith", "[NAME]", StringComparison.Ordinal), Time = _clock }))
            log.AppendRequest(new AuditRequestRecord { RequestId = "r1", Prompt = "Patient John Smith" });
        var text = File.ReadAllText(Segment);
        Assert.Contains("Patient [NAME]", text, StringComparison.Ordinal);
        Assert.DoesNotContain("John", text, StringComparison.Ordinal);
    }

    [Fact]
    public void CheckpointsAllowQuickVerification()
    {
        Write(25, new AuditLogOptions { CheckpointInterval = 10 });
        var full = AuditLog.Verify(_dir);
        Assert.True(full.IsValid, full.Problem?.ToString());
        Assert.Equal(27, full.LastSequence);
        var quick = AuditLog.Verify(_dir, fromLatestCheckpoint: true);
        Assert.True(quick.IsValid, quick.Problem?.ToString());
        Assert.True(quick.EntriesVerified < full.EntriesVerified);
        Assert.Equal(full.LastHash, quick.LastHash);
    }

    [Fact]
    public void RetentionDeletesOldSegmentsAndIsAudited()
    {
        var time = new ManualTime(new DateTimeOffset(2026, 1, 1, 12, 0, 0, TimeSpan.Zero));
        var options = new AuditLogOptions { Time = time };
        using (var log = AuditLog.Open(_dir, options))
        {
            log.Append("test", new JsonObject { ["day"] = 1 });
            time.Now = time.Now.AddDays(1);
            log.Append("test", new JsonObject { ["day"] = 2 });
            time.Now = time.Now.AddDays(40);
            log.Append("test", new JsonObject { ["day"] = 42 });
            var deleted = log.ApplyRetention(TimeSpan.FromDays(30));
            Assert.Equal(["audit-2026-01-01.jsonl", "audit-2026-01-02.jsonl"], deleted);
        }

        var r = AuditLog.Verify(_dir);
        Assert.True(r.IsValid, r.Problem?.ToString());
        Assert.Contains(r.Notes, n => n.Contains("retention", StringComparison.Ordinal));

        // Deleting a segment without a retention record is tampering.
        File.Delete(Directory.EnumerateFiles(_dir, "audit-*.jsonl").Single());
        using (var log = AuditLog.Open(Path.Combine(_dir, "b"), new AuditLogOptions { Time = time }))
        {
            log.Append("a", new JsonObject());
            time.Now = time.Now.AddDays(1);
            log.Append("b", new JsonObject());
        }

        File.Delete(Path.Combine(_dir, "b", "audit-2026-02-11.jsonl"));
        var bad = AuditLog.Verify(Path.Combine(_dir, "b"));
        Assert.Contains("deleted", bad.Problem!.Message, StringComparison.Ordinal);
    }
}
