using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Hearth.Tests.Privacy;

/// <summary>A minimal HTTP/1.1 server on 127.0.0.1:0 that counts accepted connections and answers with a callback.</summary>
internal sealed class LoopbackServer : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Func<string, string> _respond;
    private readonly CancellationTokenSource _cts = new();
    private int _connections;

    public LoopbackServer(Func<string, string>? respond = null)
    {
        _respond = respond ?? (path => Ok("hello " + path));
        _listener.Start();
        _ = Task.Run(AcceptLoop);
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public int Connections => Volatile.Read(ref _connections);

    public Uri Url => new($"http://127.0.0.1:{Port}/");

    public static string Ok(string body) => $"HTTP/1.1 200 OK\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\nConnection: close\r\n\r\n{body}";

    public static string Redirect(string location) => $"HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

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

            Interlocked.Increment(ref _connections);
            _ = Task.Run(async () =>
            {
                using (client)
                {
                    var stream = client.GetStream();
                    var buffer = new byte[8192];
                    var text = new StringBuilder();
                    while (!text.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
                    {
                        var n = await stream.ReadAsync(buffer);
                        if (n == 0)
                            return;
                        text.Append(Encoding.ASCII.GetString(buffer, 0, n));
                    }

                    var path = text.ToString().Split(' ')[1];
                    await stream.WriteAsync(Encoding.UTF8.GetBytes(_respond(path)));
                }
            });
        }
    }

    public void Dispose()
    {
        _cts.Cancel();
        _listener.Stop();
        _cts.Dispose();
    }
}
