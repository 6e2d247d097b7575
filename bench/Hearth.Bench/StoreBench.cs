using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Hearth.Privacy;
using Hearth.Store;

/// <summary>
/// Model store throughput: <c>dotnet run -c Release --project bench/Hearth.Bench -- store [MiB] [reps]</c>.
/// Pull: a streaming, hashed, resumable download of a MiB-sized random payload from a loopback server into a temp
/// store (write + fsync + rename included). Verify: re-hashing the stored blob (SHA-256). Temp files are deleted.
/// </summary>
internal static class StoreBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        var mib = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 256;
        var reps = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 3;
        var payload = new byte[mib << 20];
        new Random(42).NextBytes(payload);
        var root = Path.Combine(Path.GetTempPath(), "hearth-store-bench-" + Environment.ProcessId);
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        using var cts = new CancellationTokenSource();
        var serving = ServeAsync(listener, payload, cts.Token);
        try
        {
            var url = new Uri($"http://127.0.0.1:{port}/payload.bin");
            using var http = HearthHttp.CreateClient(new EgressGuard([url]));
            for (var r = 0; r < reps; r++)
            {
                if (Directory.Exists(root))
                    Directory.Delete(root, recursive: true);
                var store = new ModelStore(root);
                var sw = Stopwatch.StartNew();
                var result = await new BlobDownloader(store, http).DownloadAsync(new DownloadRequest(url));
                var pull = sw.Elapsed;
                sw.Restart();
                await ModelStore.HashFileAsync(result.BlobPath);
                var verify = sw.Elapsed;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"rep {r + 1}: pull {mib} MiB in {pull.TotalSeconds:F2} s = {mib / 1024.0 / pull.TotalSeconds:F2} GiB/s; verify {verify.TotalSeconds:F2} s = {mib / 1024.0 / verify.TotalSeconds:F2} GiB/s"));
            }
        }
        finally
        {
            await cts.CancelAsync();
            listener.Stop();
            try
            {
                await serving;
            }
            catch (OperationCanceledException)
            {
            }

            if (Directory.Exists(root))
                Directory.Delete(root, recursive: true);
        }

        return 0;
    }

    private static async Task ServeAsync(TcpListener listener, byte[] payload, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await listener.AcceptTcpClientAsync(cancellationToken);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
            {
                return;
            }

            using (client)
            {
                var stream = client.GetStream();
                var buffer = new byte[4096];
                var head = new StringBuilder();
                while (!head.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
                {
                    var n = await stream.ReadAsync(buffer, cancellationToken);
                    if (n == 0)
                        break;
                    head.Append(Encoding.ASCII.GetString(buffer, 0, n));
                }

                await stream.WriteAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Length: {payload.Length}\r\nConnection: close\r\n\r\n"), cancellationToken);
                await stream.WriteAsync(payload, cancellationToken);
            }
        }
    }
}
