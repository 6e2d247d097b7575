using System.Text.Json;
using Hearth.Store;

namespace Hearth.Tests.Store;

/// <summary>Parallel ranged downloads: segments fetched at once, per-segment resume after a restart, verification.</summary>
public sealed class ParallelDownloadTests : StoreTestBase
{
    private const int Segments = 4;

    private ModelPuller ParallelPuller(int attempts = 4, int segments = Segments)
    {
        var c = Config();
        c = c with { Models = c.Models with { DownloadSegments = segments, ParallelDownloadMinSize = 0 } };
        return new ModelPuller(new ModelStore(Home), c, new System.Collections.Hashtable()) { MaxAttempts = attempts, RetryDelay = TimeSpan.Zero };
    }

    private long SegmentSize => (Model.Length + Segments - 1) / Segments;

    private string Range(int i) => $"bytes={i * SegmentSize}-{Math.Min(Model.Length, (i + 1) * SegmentSize) - 1}";

    [Fact]
    public async Task LargeFileIsFetchedAsConcurrentRangesAndAssembledIdentically()
    {
        // Every response holds its body until all the segments' requests have arrived, so they are in flight together
        // however slowly a loaded machine schedules them (a 25 ms pause per 64 KiB raced the scheduler). A client that
        // fetched one segment after another would leave the gate shut and fail the concurrency counts below.
        var arrived = 0;
        var allArrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var server = new FakeHttpServer(r =>
        {
            if (Interlocked.Increment(ref arrived) == Segments)
                allArrived.TrySetResult();
            return FakeHttpServer.File(r, Model, etag: "\"v1\"", bodyGate: allArrived.Task);
        });
        var result = await ParallelPuller().PullAsync(server.Url + "m.gguf", new PullOptions { Sha256 = ModelHex });

        var requests = server.Requests.ToArray();
        Assert.Equal(Segments, requests.Length);
        Assert.Null(requests[0].Header("range"));
        Assert.Equal(Enumerable.Range(1, Segments - 1).Select(Range).Order(StringComparer.Ordinal),
            requests.Skip(1).Select(r => r.Header("range")!).Order(StringComparer.Ordinal));
        Assert.All(requests.Skip(1), r => Assert.Equal("\"v1\"", r.Header("if-range")));
        Assert.Equal(Segments, server.MaxConcurrentRequests);
        Assert.Equal(Segments - 1, server.MaxConcurrentRangeRequests);
        Assert.Equal(Model.Length, result.BytesTransferred);
        Assert.Equal(Model, File.ReadAllBytes(result.ModelPath));
        Assert.Equal(Store.BlobPath(ModelHex), result.ModelPath);
        Assert.Empty(Directory.EnumerateFiles(Store.TempDirectory, "*.partial"));
        Assert.Empty(Directory.EnumerateFiles(Store.TempDirectory, "*.json"));
    }

    [Fact]
    public async Task DroppedSegmentResumesAfterRestartTransferringOnlyItsMissingBytes()
    {
        const int cut = 100_000;
        var drop = true;
        var third = Range(2);
        using var server = new FakeHttpServer(r => FakeHttpServer.File(r, Model, etag: "\"v1\"", dropAfter: drop && r.Header("range") == third ? cut : null));

        // First process: segment 2's connection drops after `cut` bytes and no retry is allowed.
        var ex = await Assert.ThrowsAsync<ModelStoreException>(() => ParallelPuller(attempts: 1).PullAsync(server.Url + "m.gguf", new PullOptions { Sha256 = ModelHex }));
        Assert.Contains("run the same pull again to resume", ex.Message, StringComparison.Ordinal);
        Assert.False(Store.HasBlob(ModelHex));
        var sidecar = Path.Combine(Store.TempDirectory, ModelHex + ".json");
        using (var doc = JsonDocument.Parse(File.ReadAllText(sidecar)))
        {
            var done = doc.RootElement.GetProperty("segments").EnumerateArray().Select(s => s.GetProperty("done").GetInt64()).ToArray();
            Assert.Equal(cut, done[2]);
            Assert.Equal(SegmentSize, done[0]);
            Assert.Equal(SegmentSize, done[1]);
            Assert.Equal(Model.Length - (3 * SegmentSize), done[3]);
        }

        // "Restart": a new store and puller on the same directory ask only for the rest of segment 2.
        drop = false;
        var before = server.Requests.Count;
        var result = await ParallelPuller().PullAsync(server.Url + "m.gguf", new PullOptions { Sha256 = ModelHex });

        var resumed = Assert.Single(server.Requests.Skip(before));
        Assert.Equal($"bytes={(2 * SegmentSize) + cut}-{(3 * SegmentSize) - 1}", resumed.Header("range"));
        Assert.Equal("\"v1\"", resumed.Header("if-range"));
        Assert.Equal(SegmentSize - cut, result.BytesTransferred);
        Assert.Equal(Model, File.ReadAllBytes(result.ModelPath));
        Assert.False(File.Exists(sidecar));
        Assert.False(File.Exists(Path.Combine(Store.TempDirectory, ModelHex + ".partial")));
    }

    [Fact]
    public async Task DroppedSegmentIsRetriedWithinOnePull()
    {
        var dropped = 0;
        var second = Range(1);
        using var server = new FakeHttpServer(r => FakeHttpServer.File(r, Model,
            dropAfter: r.Header("range") == second && Interlocked.Exchange(ref dropped, 1) == 0 ? 50_000 : null));
        var result = await ParallelPuller().PullAsync(server.Url + "x/stories.gguf");

        Assert.Equal(ModelHex, result.Downloads[0].Hex);
        Assert.Equal(Model.Length, result.BytesTransferred);
        Assert.Contains(server.Requests, r => r.Header("range") == $"bytes={SegmentSize + 50_000}-{(2 * SegmentSize) - 1}");
    }

    [Fact]
    public async Task DigestMismatchLeavesNothingUnderTheFinalName()
    {
        using var server = new FakeHttpServer(r => FakeHttpServer.File(r, Model));
        var wrong = new string('b', 64);
        var ex = await Assert.ThrowsAsync<ModelStoreException>(() => ParallelPuller().PullAsync(server.Url + "m.gguf", new PullOptions { Sha256 = wrong }));

        Assert.Contains("sha256 mismatch", ex.Message, StringComparison.Ordinal);
        Assert.Contains(ModelHex, ex.Message, StringComparison.Ordinal);
        Assert.True(server.Requests.Count(r => r.Header("range") is not null) >= Segments - 1);
        Assert.False(Store.HasBlob(ModelHex));
        Assert.False(Store.HasBlob(wrong));
        Assert.Empty(Store.EnumerateBlobs());
        Assert.Empty(Directory.EnumerateFiles(Store.TempDirectory, "*.partial"));
        Assert.Empty(Directory.EnumerateFiles(Store.TempDirectory, "*.json"));
        Assert.Empty(Store.ReadAll());
    }

    [Fact]
    public async Task ServerIgnoringRangesFallsBackToOneStream()
    {
        // Advertises Accept-Ranges but answers every request with the whole file.
        using var server = new FakeHttpServer(r => new FakeHttpServer.Response { Body = Model, Headers = { ["Accept-Ranges"] = "bytes" } });
        var result = await ParallelPuller().PullAsync(server.Url + "m.gguf", new PullOptions { Sha256 = ModelHex });

        Assert.Equal(Model, File.ReadAllBytes(result.ModelPath));
        Assert.Null(server.Requests.Last().Header("range"));
    }

    [Fact]
    public async Task SmallFileOrServerWithoutRangesUsesOneStream()
    {
        using var server = new FakeHttpServer(r => new FakeHttpServer.Response { Body = Model });
        await ParallelPuller().PullAsync(server.Url + "m.gguf");
        Assert.Single(server.Requests);

        using var ranged = new FakeHttpServer(r => FakeHttpServer.File(r, Model));
        await Puller().PullAsync(ranged.Url + "n.gguf");   // default threshold (64 MiB) is above the 1 MiB fixture
        Assert.Single(ranged.Requests);
    }
}
