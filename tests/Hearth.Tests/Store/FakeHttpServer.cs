using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace Hearth.Tests.Store;

/// <summary>
/// A small HTTP/1.1 server on 127.0.0.1:0 for store tests: each request is answered by a callback, one request per
/// connection. It records every request (method, path, headers) and counts the body bytes it sent, and can drop the
/// connection part-way through a body or send it slowly.
/// </summary>
internal sealed class FakeHttpServer : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _cts = new();
    private readonly Func<Request, Response> _handler;
    private long _bodyBytes;
    private int _inFlight;
    private int _maxInFlight;
    private int _inFlightRanges;
    private int _maxInFlightRanges;

    public FakeHttpServer(Func<Request, Response> handler)
    {
        _handler = handler;
        _listener.Start();
        _ = Task.Run(AcceptLoop);
    }

    public sealed record Request(string Method, string Path, IReadOnlyDictionary<string, string> Headers)
    {
        public string? Header(string name) => Headers.TryGetValue(name.ToLowerInvariant(), out var v) ? v : null;
    }

    public sealed class Response
    {
        public int Status { get; init; } = 200;
        public Dictionary<string, string> Headers { get; init; } = new(StringComparer.OrdinalIgnoreCase);
        public byte[] Body { get; init; } = [];

        /// <summary>Send this many body bytes, then close the connection (Content-Length still announces all of them).</summary>
        public long? DropAfter { get; init; }

        /// <summary>Pause this long after each 64 KiB of body.</summary>
        public TimeSpan ChunkDelay { get; init; }

        /// <summary>Hold the body (the headers are sent) until this task completes, at most <see cref="BodyGateLimit"/>:
        /// lets a test prove requests overlap without racing the scheduler. Past the limit the body is sent anyway, so a
        /// client that never overlaps fails the test's assertion instead of hanging it.</summary>
        public Task? BodyGate { get; init; }
    }

    /// <summary>Longest a <see cref="Response.BodyGate"/> holds a body.</summary>
    public static readonly TimeSpan BodyGateLimit = TimeSpan.FromSeconds(30);

    public Uri Url => new($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/");

    public ConcurrentQueue<Request> Requests { get; } = new();

    public long BodyBytesSent => Interlocked.Read(ref _bodyBytes);

    /// <summary>Most requests being answered at the same moment.</summary>
    public int MaxConcurrentRequests => Volatile.Read(ref _maxInFlight);

    /// <summary>Most requests carrying a <c>Range</c> header being answered at the same moment.</summary>
    public int MaxConcurrentRangeRequests => Volatile.Read(ref _maxInFlightRanges);

    public static string Sha256(byte[] data) => Convert.ToHexStringLower(SHA256.HashData(data));

    public static Response Text(int status, string text, string contentType = "application/json")
        => new() { Status = status, Body = Encoding.UTF8.GetBytes(text), Headers = { ["Content-Type"] = contentType } };

    public static Response Redirect(string location, int status = 302) => new() { Status = status, Headers = { ["Location"] = location } };

    /// <summary>Serves <paramref name="data"/> honouring <c>Range: bytes=N-</c> and <c>bytes=N-M</c> (206, or 416 past the end) and <c>If-Range</c>.</summary>
    public static Response File(Request request, byte[] data, string? etag = null, long? dropAfter = null, TimeSpan chunkDelay = default, Dictionary<string, string>? headers = null, Task? bodyGate = null)
    {
        var h = new Dictionary<string, string>(headers ?? [], StringComparer.OrdinalIgnoreCase) { ["Accept-Ranges"] = "bytes" };
        if (etag is not null)
            h["ETag"] = etag;
        var range = request.Header("range");
        var ifRange = request.Header("if-range");
        if (range is not null && (ifRange is null || ifRange == etag) && range.StartsWith("bytes=", StringComparison.Ordinal) && range.Contains('-', StringComparison.Ordinal))
        {
            var parts = range[6..].Split('-');
            var from = long.Parse(parts[0], CultureInfo.InvariantCulture);
            var to = parts[1].Length == 0 ? data.Length - 1 : Math.Min(data.Length - 1, long.Parse(parts[1], CultureInfo.InvariantCulture));
            if (from >= data.Length)
            {
                h["Content-Range"] = $"bytes */{data.Length}";
                return new Response { Status = 416, Headers = h };
            }

            h["Content-Range"] = $"bytes {from}-{to}/{data.Length}";
            return new Response { Status = 206, Headers = h, Body = data[(int)from..(int)(to + 1)], DropAfter = dropAfter, ChunkDelay = chunkDelay, BodyGate = bodyGate };
        }

        return new Response { Status = 200, Headers = h, Body = data, DropAfter = dropAfter, ChunkDelay = chunkDelay, BodyGate = bodyGate };
    }

    private async Task AcceptLoop()
    {
        while (!_cts.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_cts.Token);
            }
            catch (Exception ex) when (ex is ObjectDisposedException or SocketException or OperationCanceledException or InvalidOperationException)
            {
                return;
            }

            _ = Task.Run(() => Serve(client));
        }
    }

    private static void Track(ref int current, ref int max, int delta)
    {
        var now = Interlocked.Add(ref current, delta);
        int seen;
        while (now > (seen = Volatile.Read(ref max)) && Interlocked.CompareExchange(ref max, now, seen) != seen)
        {
        }
    }

    private async Task Serve(TcpClient client)
    {
        var counted = false;
        var isRange = false;
        using (client)
        {
            try
            {
                var stream = client.GetStream();
                var head = new StringBuilder();
                var one = new byte[1];
                while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
                {
                    if (await stream.ReadAsync(one, _cts.Token) == 0)
                        return;
                    head.Append((char)one[0]);
                }

                var lines = head.ToString().Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
                var first = lines[0].Split(' ');
                var headers = lines.Skip(1).Select(l => l.Split(':', 2)).Where(p => p.Length == 2)
                    .GroupBy(p => p[0].Trim().ToLowerInvariant())
                    .ToDictionary(g => g.Key, g => g.First()[1].Trim());
                var request = new Request(first[0], first[1], headers);
                Requests.Enqueue(request);
                isRange = request.Header("range") is not null;
                Track(ref _inFlight, ref _maxInFlight, 1);
                if (isRange)
                    Track(ref _inFlightRanges, ref _maxInFlightRanges, 1);
                counted = true;
                var response = _handler(request);

                var text = new StringBuilder($"HTTP/1.1 {response.Status} {Reason(response.Status)}\r\n");
                foreach (var (k, v) in response.Headers)
                    text.Append(CultureInfo.InvariantCulture, $"{k}: {v}\r\n");
                text.Append(CultureInfo.InvariantCulture, $"Content-Length: {response.Body.Length}\r\nConnection: close\r\n\r\n");
                await stream.WriteAsync(Encoding.ASCII.GetBytes(text.ToString()), _cts.Token);
                if (request.Method == "HEAD")
                    return;
                if (response.BodyGate is { } gate)
                {
                    await stream.FlushAsync(_cts.Token);
                    await Task.WhenAny(gate, Task.Delay(BodyGateLimit, _cts.Token));
                }
                var limit = (int)Math.Min(response.DropAfter ?? long.MaxValue, response.Body.Length);
                for (var offset = 0; offset < limit; offset += 65536)
                {
                    var n = Math.Min(65536, limit - offset);
                    await stream.WriteAsync(response.Body.AsMemory(offset, n), _cts.Token);
                    Interlocked.Add(ref _bodyBytes, n);
                    if (response.ChunkDelay > TimeSpan.Zero)
                        await Task.Delay(response.ChunkDelay, _cts.Token);
                }

                // A dropped body ends with a clean close after the bytes sent, so the client sees exactly those bytes.
                await stream.FlushAsync(_cts.Token);
            }
            catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
            {
            }
            finally
            {
                if (counted)
                {
                    Track(ref _inFlight, ref _maxInFlight, -1);
                    if (isRange)
                        Track(ref _inFlightRanges, ref _maxInFlightRanges, -1);
                }
            }
        }
    }

    private static string Reason(int status) => status switch
    {
        200 => "OK",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        307 => "Temporary Redirect",
        401 => "Unauthorized",
        404 => "Not Found",
        416 => "Range Not Satisfiable",
        _ => "Status",
    };

    public void Dispose()
    {
        _cts.Cancel();
        _listener.Stop();
        _cts.Dispose();
    }
}
