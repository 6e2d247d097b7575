using System.Buffers;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Hearth.Privacy;

namespace Hearth.Store;

/// <summary>One file to download into the store.</summary>
internal sealed record DownloadRequest(Uri Url)
{
    /// <summary>Lower-case hex SHA-256 the data must have; null when unknown (the computed digest names the blob).</summary>
    public string? ExpectedSha256 { get; init; }

    /// <summary>Size the data must have, when known.</summary>
    public long? ExpectedSize { get; init; }

    /// <summary>Sent with the first request; never forwarded to another host by a redirect.</summary>
    public AuthenticationHeaderValue? Authorization { get; init; }

    /// <summary>Extra request headers (e.g. Accept).</summary>
    public IReadOnlyDictionary<string, string>? Headers { get; init; }

    /// <summary>Take the expected digest from an <c>X-Linked-Etag</c>/<c>ETag</c> that is a SHA-256 (Hugging Face LFS files).</summary>
    public bool DigestFromHeaders { get; init; }

    /// <summary>Name shown in progress and errors.</summary>
    public string Label { get; init; } = "";
}

/// <summary>Progress of one download: bytes of the file present so far (including resumed bytes) and the total when known.</summary>
internal readonly record struct DownloadProgress(string Label, long Received, long? Total);

internal sealed record DownloadResult(string Hex, long Size, string BlobPath, long BytesTransferred, bool AlreadyPresent, long ResumedFrom);

/// <summary>
/// Streams a URL into the store: SHA-256 computed while streaming, partial data under <c>tmp/&lt;key&gt;.partial</c>
/// (key = the expected digest, or a hash of the URL), resumed with <c>Range</c> after a dropped connection or a
/// restart, verified, then moved atomically to <c>blobs/sha256-&lt;hex&gt;</c>. A per-key file lock makes two pulls of
/// the same blob (in one process or two) take turns: the second finds the blob and transfers nothing.
/// A large file (at least <see cref="ParallelMinSize"/> bytes) from a server that answers <c>Accept-Ranges: bytes</c> with
/// a known length is fetched as <see cref="ParallelSegments"/> byte ranges at once into a preallocated partial file; the
/// sidecar records each segment's progress, so a restart requests only the missing bytes of each segment. The assembled
/// file is hashed after the segments finish, before the atomic move.
/// </summary>
internal sealed class BlobDownloader(ModelStore store, HttpClient http)
{
    private const int BufferSize = 1 << 20;

    /// <summary>Attempts per download; each one after a failure resumes from the bytes already on disk.</summary>
    public int MaxAttempts { get; init; } = 4;

    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Byte ranges fetched at once for a large file from a server that supports ranges; 1 disables parallel downloads.</summary>
    public int ParallelSegments { get; init; } = 4;

    /// <summary>Smallest file (bytes) that is split into parallel ranges.</summary>
    public long ParallelMinSize { get; init; } = 64L << 20;

    /// <summary>Bytes a segment receives between two updates of its recorded progress in the sidecar.</summary>
    private const long SidecarInterval = 4L << 20;

    /// <summary>Set when a server advertised ranges but did not honour one: later attempts download in one stream.</summary>
    private volatile bool _rangesUnreliable;

    public async Task<DownloadResult> DownloadAsync(DownloadRequest request, Action<DownloadProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var expected = request.ExpectedSha256 is null ? null : ModelStore.NormalizeHex(request.ExpectedSha256);
        if (expected is not null && TryExisting(expected) is { } present)
            return present;

        Directory.CreateDirectory(store.TempDirectory);
        var key = expected ?? "url-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(request.Url.AbsoluteUri)));
        var partial = Path.Combine(store.TempDirectory, key + ".partial");
        using var keyLock = await StoreLock.AcquireAsync(Path.Combine(store.TempDirectory, key + ".lock"), exclusive: true, cancellationToken: cancellationToken);
        if (expected is not null && TryExisting(expected) is { } done)
            return done;
        var doneMarker = Path.Combine(store.TempDirectory, key + ".done");
        if (expected is null && keyLock.Waited && File.Exists(doneMarker) && TryExisting(File.ReadAllText(doneMarker).Trim()) is { } other)
            return other;

        long transferred = 0;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var result = await AttemptAsync(request with { ExpectedSha256 = expected }, partial, n => Interlocked.Add(ref transferred, n), progress, cancellationToken);
                if (expected is null)
                    File.WriteAllText(doneMarker, result.Hex);
                return result with { BytesTransferred = transferred };
            }
            catch (Exception ex) when (attempt < MaxAttempts && IsTransient(ex, cancellationToken))
            {
                await Task.Delay(RetryDelay, cancellationToken);
            }
            catch (Exception ex) when (IsTransient(ex, cancellationToken))
            {
                throw new ModelStoreException($"download of {Describe(request)} failed after {attempt} attempts: {ex.Message}. " +
                    $"The {FileSize(partial)} bytes received are kept; run the same pull again to resume.", ex);
            }
        }
    }

    private DownloadResult? TryExisting(string hex)
    {
        var blob = store.BlobPath(hex);
        return File.Exists(blob) ? new DownloadResult(hex, new FileInfo(blob).Length, blob, 0, AlreadyPresent: true, 0) : null;
    }

    private async Task<DownloadResult> AttemptAsync(DownloadRequest request, string partial, Action<long> counted, Action<DownloadProgress>? progress, CancellationToken cancellationToken)
    {
        var sidecar = partial[..^".partial".Length] + ".json";
        var info = ReadSidecar(sidecar);
        if (info?.Segments is { Count: > 0 } segments)
        {
            if (info.Total is { } segmentedTotal && FileSize(partial) == segmentedTotal && (request.ExpectedSize ?? segmentedTotal) == segmentedTotal)
                return await SegmentedAsync(request with { ExpectedSha256 = request.ExpectedSha256 ?? info.Sha256 }, partial, sidecar, info, null, counted, progress, cancellationToken);

            // The record does not match the data on disk: start again from zero.
            Truncate(partial, 0);
            File.Delete(sidecar);
            info = null;
        }

        var have = FileSize(partial);
        if (request.ExpectedSize is { } size && have > size)
            have = Truncate(partial, 0);

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        if (have > 0)
            have = await SeedAsync(hash, partial, have, cancellationToken);

        using var message = new HttpRequestMessage(HttpMethod.Get, request.Url);
        message.Headers.Authorization = request.Authorization;
        if (request.Headers is not null)
        {
            foreach (var (name, value) in request.Headers)
                message.Headers.TryAddWithoutValidation(name, value);
        }

        if (have > 0)
        {
            message.Headers.Range = new RangeHeaderValue(have, null);
            // If the resource changed since the partial data was fetched, the server sends it whole (200) instead.
            if (info?.ETag is { } etag && EntityTagHeaderValue.TryParse(etag, out var tag) && !tag.IsWeak)
                message.Headers.IfRange = new RangeConditionHeaderValue(tag);
        }

        using var response = await http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        long? total;
        var status = (int)response.StatusCode;
        if (status == 416)
        {
            var length = response.Content.Headers.ContentRange?.Length;
            if (have > 0 && length == have)
                return Complete(request, partial, sidecar, hash, have);
            // The partial data does not fit the resource (it shrank or changed): start again from zero.
            Truncate(partial, 0);
            File.Delete(sidecar);
            throw new HttpRequestException($"{Describe(request)} answered 416 Range Not Satisfiable to 'bytes={have}-' (its size is {length?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unknown"}); restarting from zero");
        }

        if (status == 206)
        {
            var range = response.Content.Headers.ContentRange;
            if (range is null || range.From != have)
            {
                Truncate(partial, 0);
                throw new HttpRequestException($"{Describe(request)} answered a range starting at {range?.From} to a request for 'bytes={have}-'; restarting from zero");
            }

            total = range.Length;
        }
        else if (response.IsSuccessStatusCode)
        {
            if (have > 0)
            {
                have = Truncate(partial, 0);
                hash.GetHashAndReset();
            }

            total = response.Content.Headers.ContentLength;
        }
        else
        {
            throw HttpFailure(request, response);
        }

        if (request.ExpectedSha256 is null && request.DigestFromHeaders && DigestHeader(response) is { } linked)
            request = request with { ExpectedSha256 = linked };
        if (request.ExpectedSize is { } expectedSize && total is { } t && t != expectedSize)
            throw new ModelStoreException($"{Describe(request)} has {t} bytes, expected {expectedSize}");
        total ??= request.ExpectedSize;

        if (have == 0 && status == 200 && total is { } whole && CanSplit(response, whole))
        {
            var split = new PartialInfo(request.Url.AbsoluteUri, response.Headers.ETag?.ToString(), whole) { Sha256 = request.ExpectedSha256, Segments = Split(whole) };
            return await SegmentedAsync(request, partial, sidecar, split, response, counted, progress, cancellationToken);
        }

        WriteSidecar(sidecar, new PartialInfo(request.Url.AbsoluteUri, response.Headers.ETag?.ToString(), total));
        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
            await using var file = new FileStream(partial, FileMode.OpenOrCreate, FileAccess.Write, FileShare.None, 1, FileOptions.Asynchronous);
            file.SetLength(have);
            file.Position = have;
            var lastReport = 0L;
            int n;
            while ((n = await body.ReadAsync(buffer.AsMemory(0, BufferSize), cancellationToken)) > 0)
            {
                await file.WriteAsync(buffer.AsMemory(0, n), cancellationToken);
                hash.AppendData(buffer, 0, n);
                have += n;
                counted(n);
                if (progress is not null && (have - lastReport >= BufferSize || have == total))
                {
                    lastReport = have;
                    progress(new DownloadProgress(request.Label, have, total));
                }
            }

            file.Flush(flushToDisk: true);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        if (total is { } expectedTotal && have != expectedTotal)
            throw new IOException($"the connection to {request.Url.Authority} closed after {have} of {expectedTotal} bytes");
        progress?.Invoke(new DownloadProgress(request.Label, have, total ?? have));
        return Complete(request, partial, sidecar, hash, have);
    }

    private bool CanSplit(HttpResponseMessage response, long total)
        => ParallelSegments > 1 && !_rangesUnreliable && total >= ParallelMinSize && total >= ParallelSegments
            && response.Headers.AcceptRanges.Contains("bytes", StringComparer.OrdinalIgnoreCase)
            && response.Content.Headers.ContentEncoding.Count == 0;

    private SegmentInfo[] Split(long total)
    {
        var size = (total + ParallelSegments - 1) / ParallelSegments;
        var segments = new SegmentInfo[ParallelSegments];
        for (var i = 0; i < segments.Length; i++)
            segments[i] = new SegmentInfo(Math.Min(total, i * size), Math.Min(total, (i + 1) * size), 0);
        return segments;
    }

    /// <summary>
    /// Fetches the missing bytes of every segment at once (segment 0 from <paramref name="first"/>, the plain GET that
    /// told us the length, when given), records each segment's progress in the sidecar as it goes, then hashes the
    /// assembled file and completes. A segment that fails leaves its progress recorded; the others run to their end.
    /// </summary>
    private async Task<DownloadResult> SegmentedAsync(DownloadRequest request, string partial, string sidecar, PartialInfo info, HttpResponseMessage? first,
        Action<long> counted, Action<DownloadProgress>? progress, CancellationToken cancellationToken)
    {
        var total = info.Total!.Value;
        var states = info.Segments!.Select(s => new SegmentState(s)).ToArray();
        if (first is not null)
        {
            await using (var create = new FileStream(partial, FileMode.Create, FileAccess.Write, FileShare.ReadWrite))
                create.SetLength(total);
        }

        var gate = new Lock();
        void Save()
        {
            lock (gate)
                WriteSidecar(sidecar, info with { Segments = states.Select(s => s.Snapshot()).ToArray() });
        }

        Save();
        var received = states.Sum(s => s.Done);
        var lastReport = received;
        void Count(int n)
        {
            counted(n);
            var now = Interlocked.Add(ref received, n);
            if (progress is not null && now - Interlocked.Read(ref lastReport) >= BufferSize)
            {
                Interlocked.Exchange(ref lastReport, now);
                progress(new DownloadProgress(request.Label, now, total));
            }
        }

        using var abort = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var restart = 0;
        var tasks = new List<Task>();
        for (var i = 0; i < states.Length; i++)
        {
            var state = states[i];
            if (state.Done >= state.Length)
            {
                if (i == 0)
                    first?.Dispose();
                continue;
            }

            var body = i == 0 && first is not null ? first : null;
            tasks.Add(Task.Run(async () =>
            {
                try
                {
                    await FetchSegmentAsync(request, partial, info, state, body, Count, Save, abort.Token);
                }
                catch (SegmentRestartException)
                {
                    Interlocked.Exchange(ref restart, 1);
                    throw;
                }
                catch (Exception ex) when (!IsTransient(ex, abort.Token))
                {
                    await abort.CancelAsync();
                    throw;
                }
                finally
                {
                    Save();
                }
            }, CancellationToken.None));
        }

        try
        {
            await Task.WhenAll(tasks);
        }
        catch (Exception) when (Volatile.Read(ref restart) == 1)
        {
            _rangesUnreliable = true;
            Truncate(partial, 0);
            File.Delete(sidecar);
            throw new HttpRequestException($"{Describe(request)} changed or ignored a range request during a parallel download; restarting from zero");
        }
        catch (Exception) when (tasks.Select(t => t.Exception?.InnerException).FirstOrDefault(e => e is not null && !IsTransient(e, cancellationToken) && e is not OperationCanceledException) is { } fatal)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(fatal);
            throw;
        }

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var hashed = await SeedAsync(hash, partial, total, cancellationToken);
        progress?.Invoke(new DownloadProgress(request.Label, total, total));
        return Complete(request, partial, sidecar, hash, hashed);
    }

    private async Task FetchSegmentAsync(DownloadRequest request, string partial, PartialInfo info, SegmentState state, HttpResponseMessage? first,
        Action<int> count, Action save, CancellationToken cancellationToken)
    {
        var response = first;
        try
        {
            if (response is null)
            {
                using var message = new HttpRequestMessage(HttpMethod.Get, request.Url);
                message.Headers.Authorization = request.Authorization;
                if (request.Headers is not null)
                {
                    foreach (var (name, value) in request.Headers)
                        message.Headers.TryAddWithoutValidation(name, value);
                }

                message.Headers.Range = new RangeHeaderValue(state.Start + state.Done, state.End - 1);
                if (info.ETag is { } etag && EntityTagHeaderValue.TryParse(etag, out var tag) && !tag.IsWeak)
                    message.Headers.IfRange = new RangeConditionHeaderValue(tag);
                response = await http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
                if (response.StatusCode != HttpStatusCode.PartialContent)
                {
                    if (response.IsSuccessStatusCode || (int)response.StatusCode == 416)
                        throw new SegmentRestartException();
                    throw HttpFailure(request, response);
                }

                var range = response.Content.Headers.ContentRange;
                if (range is null || range.From != state.Start + state.Done || range.To != state.End - 1 || (range.Length is { } length && length != info.Total))
                    throw new SegmentRestartException();
            }

            var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
            try
            {
                await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
                await using var file = new FileStream(partial, FileMode.Open, FileAccess.Write, FileShare.ReadWrite, 1, FileOptions.Asynchronous);
                file.Position = state.Start + state.Done;
                var sinceSave = 0L;
                while (state.Done < state.Length)
                {
                    var want = (int)Math.Min(BufferSize, state.Length - state.Done);
                    var n = await body.ReadAsync(buffer.AsMemory(0, want), cancellationToken);
                    if (n == 0)
                        break;
                    await file.WriteAsync(buffer.AsMemory(0, n), cancellationToken);
                    state.Advance(n);
                    count(n);
                    sinceSave += n;
                    if (sinceSave >= SidecarInterval)
                    {
                        sinceSave = 0;
                        save();
                    }
                }

                file.Flush(flushToDisk: true);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }

            if (state.Done < state.Length)
                throw new IOException($"the connection to {request.Url.Authority} closed after {state.Done} of {state.Length} bytes of the range starting at {state.Start}");
        }
        finally
        {
            response?.Dispose();
        }
    }

    /// <summary>Progress of one segment, shared between its download task and the sidecar writer.</summary>
    private sealed class SegmentState(SegmentInfo info)
    {
        private long _done = Math.Clamp(info.Done, 0, info.End - info.Start);

        public long Start { get; } = info.Start;

        public long End { get; } = info.End;

        public long Length => End - Start;

        public long Done => Interlocked.Read(ref _done);

        public void Advance(int n) => Interlocked.Add(ref _done, n);

        public SegmentInfo Snapshot() => new(Start, End, Done);
    }

    /// <summary>The server answered a range request with something other than that range: the partial data is discarded.</summary>
    private sealed class SegmentRestartException : Exception
    {
        public SegmentRestartException()
            : base("range request not honoured")
        {
        }
    }

    private DownloadResult Complete(DownloadRequest request, string partial, string sidecar, IncrementalHash hash, long size)
    {
        var hex = Convert.ToHexStringLower(hash.GetHashAndReset());
        if (request.ExpectedSha256 is { } expected && hex != expected)
        {
            File.Delete(partial);
            File.Delete(sidecar);
            throw new ModelStoreException($"sha256 mismatch for {Describe(request)}: expected {expected}, got {hex} ({size} bytes); the downloaded data was deleted");
        }

        var blob = store.CommitBlob(partial, hex);
        File.Delete(sidecar);
        return new DownloadResult(hex, size, blob, 0, AlreadyPresent: false, 0);
    }

    private static async Task<long> SeedAsync(IncrementalHash hash, string partial, long have, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            await using var stream = new FileStream(partial, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan | FileOptions.Asynchronous);
            long seen = 0;
            while (seen < have)
            {
                var n = await stream.ReadAsync(buffer.AsMemory(0, (int)Math.Min(BufferSize, have - seen)), cancellationToken);
                if (n == 0)
                    break;
                hash.AppendData(buffer, 0, n);
                seen += n;
            }

            return seen;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static string? DigestHeader(HttpResponseMessage response)
    {
        foreach (var name in new[] { "X-Linked-Etag", "ETag" })
        {
            if (response.Headers.TryGetValues(name, out var values))
            {
                var v = values.First().Trim();
                if (v.StartsWith("W/", StringComparison.Ordinal))
                    v = v[2..];
                v = v.Trim('"');
                if (v.Length == 64 && v.All(char.IsAsciiHexDigit))
                    return v.ToLowerInvariant();
            }
        }

        return null;
    }

    private static ModelStoreException HttpFailure(DownloadRequest request, HttpResponseMessage response)
    {
        var code = (int)response.StatusCode;
        var hint = response.StatusCode switch
        {
            HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden => " (access denied: the model may be gated or private; for Hugging Face set HF_TOKEN)",
            HttpStatusCode.NotFound => " (not found)",
            _ => "",
        };
        return new ModelStoreException($"{Describe(request)} answered {code} {response.ReasonPhrase}{hint}");
    }

    private static bool IsTransient(Exception ex, CancellationToken cancellationToken)
        => ex switch
        {
            ModelStoreException or EgressDeniedException => false,
            OperationCanceledException => !cancellationToken.IsCancellationRequested,
            HttpRequestException or IOException => true,
            _ => false,
        };

    private static string Describe(DownloadRequest request) => request.Url.GetLeftPart(UriPartial.Path);

    private static long FileSize(string path) => File.Exists(path) ? new FileInfo(path).Length : 0;

    private static long Truncate(string path, long length)
    {
        if (File.Exists(path))
        {
            using var f = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.None);
            f.SetLength(length);
        }

        return length;
    }

    private static PartialInfo? ReadSidecar(string path)
    {
        try
        {
            return File.Exists(path) ? JsonSerializer.Deserialize(File.ReadAllText(path), StoreJsonContext.Default.PartialInfo) : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Writes the sidecar atomically (temp file + rename), so a kill never leaves a torn record.</summary>
    private static void WriteSidecar(string path, PartialInfo info)
    {
        var temp = path + ".tmp";
        File.WriteAllText(temp, JsonSerializer.Serialize(info, StoreJsonContext.Default.PartialInfo));
        File.Move(temp, path, overwrite: true);
    }
}
