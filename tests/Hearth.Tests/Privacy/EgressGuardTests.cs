using System.Net;
using System.Text.Json;
using Hearth.Configuration;
using Hearth.Privacy;

namespace Hearth.Tests.Privacy;

public sealed class EgressGuardTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("hearth-egress-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Func<string, CancellationToken, Task<IPAddress[]>> Resolver(string name, params string[] addresses)
        => (host, _) => host == name ? Task.FromResult(addresses.Select(IPAddress.Parse).ToArray()) : throw new InvalidOperationException("unexpected lookup of " + host);

    [Fact]
    public async Task AllowedEndpointWorks()
    {
        using var server = new LoopbackServer();
        var guard = new EgressGuard([server.Url]);
        using var http = HearthHttp.CreateClient(guard);
        Assert.Equal("hello /v1/models", await http.GetStringAsync(new Uri(server.Url, "v1/models")));
        Assert.Equal(1, guard.Counters.Allowed);
        Assert.Equal(0, guard.Counters.Refused);
    }

    [Fact]
    public async Task DifferentLoopbackPortIsRefusedBeforeASocketOpens()
    {
        using var allowed = new LoopbackServer();
        using var other = new LoopbackServer();
        var guard = new EgressGuard([allowed.Url]);
        using var http = HearthHttp.CreateClient(guard);
        var ex = await Assert.ThrowsAsync<EgressDeniedException>(() => http.GetStringAsync(other.Url));
        Assert.Contains($"127.0.0.1:{other.Port}", ex.Destination, StringComparison.Ordinal);
        Assert.Contains($"allow http://127.0.0.1:{allowed.Port}", ex.Rule, StringComparison.Ordinal);
        Assert.Equal(0, other.Connections);
        Assert.Equal(1, guard.Counters.Refused);
    }

    [Fact]
    public async Task LocalhostIsNotTheSameEndpointAsLoopbackLiteral()
    {
        using var server = new LoopbackServer();
        var guard = new EgressGuard([server.Url]);
        using var http = HearthHttp.CreateClient(guard);
        await Assert.ThrowsAsync<EgressDeniedException>(() => http.GetStringAsync(new Uri($"http://localhost:{server.Port}/")));
        Assert.Equal(0, server.Connections);
    }

    [Fact]
    public async Task NameResolvingToLoopbackIsRefused()
    {
        // An allowed external-looking name that DNS points at a local service (rebinding): refused, nothing connects.
        using var server = new LoopbackServer();
        var guard = new EgressGuard([new Uri($"http://models.internal:{server.Port}/")], resolve: Resolver("models.internal", "127.0.0.1"));
        using var http = HearthHttp.CreateClient(guard);
        var ex = await Assert.ThrowsAsync<EgressDeniedException>(() => http.GetStringAsync(new Uri($"http://models.internal:{server.Port}/")));
        Assert.Contains("loopback", ex.Rule, StringComparison.Ordinal);
        Assert.Equal(0, server.Connections);
    }

    [Fact]
    public async Task LocalhostResolvingToNonLoopbackIsRefused()
    {
        using var server = new LoopbackServer();
        var guard = new EgressGuard([new Uri($"http://localhost:{server.Port}/")], resolve: Resolver("localhost", "192.0.2.10"));
        using var http = HearthHttp.CreateClient(guard);
        var ex = await Assert.ThrowsAsync<EgressDeniedException>(() => http.GetStringAsync(new Uri($"http://localhost:{server.Port}/")));
        Assert.Contains("192.0.2.10", ex.Destination, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LocalhostResolvingToLoopbackWorks()
    {
        using var server = new LoopbackServer();
        var guard = new EgressGuard([new Uri($"http://localhost:{server.Port}/")], resolve: Resolver("localhost", "127.0.0.1"));
        using var http = HearthHttp.CreateClient(guard);
        Assert.Equal("hello /", await http.GetStringAsync(new Uri($"http://localhost:{server.Port}/")));
    }

    [Fact]
    public async Task RedirectToNonAllowedPortIsRefused()
    {
        using var target = new LoopbackServer();
        using var server = new LoopbackServer(path => path == "/ok" ? LoopbackServer.Ok("fine") : LoopbackServer.Redirect(path == "/same" ? "/ok" : $"http://127.0.0.1:{target.Port}/steal"));
        var guard = new EgressGuard([server.Url]);
        using var http = HearthHttp.CreateClient(guard);
        Assert.Equal("fine", await http.GetStringAsync(new Uri(server.Url, "same")));
        var ex = await Assert.ThrowsAsync<EgressDeniedException>(() => http.GetStringAsync(new Uri(server.Url, "away")));
        Assert.Contains("redirect", ex.Rule, StringComparison.Ordinal);
        Assert.Contains($"127.0.0.1:{target.Port}", ex.Destination, StringComparison.Ordinal);
        Assert.Equal(0, target.Connections);
    }

    [Fact]
    public async Task ConnectCallbackAloneRefusesUnlistedDestination()
    {
        // Defence in depth: even a handler used without the redirect handler cannot open a socket elsewhere.
        using var allowed = new LoopbackServer();
        using var other = new LoopbackServer();
        var guard = new EgressGuard([allowed.Url]);
        using var handler = new SocketsHttpHandler { ConnectCallback = guard.ConnectAsync, UseProxy = false };
        using var http = new HttpClient(handler);
        var ex = await Assert.ThrowsAsync<HttpRequestException>(() => http.GetStringAsync(other.Url));
        Assert.IsType<EgressDeniedException>(ex.InnerException);
        Assert.Equal(0, other.Connections);
    }

    [Fact]
    public async Task AttemptsAreAudited()
    {
        using var server = new LoopbackServer();
        using var audit = AuditLog.Open(_dir);
        var guard = new EgressGuard([server.Url], audit);
        using var http = HearthHttp.CreateClient(guard);
        await http.GetStringAsync(server.Url);
        await Assert.ThrowsAsync<EgressDeniedException>(() => http.GetStringAsync(new Uri("http://127.0.0.1:1/")));
        var entries = Directory.EnumerateFiles(_dir, "audit-*.jsonl").SelectMany(File.ReadLines).Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        var decisions = entries.Where(e => e.GetProperty("type").GetString() == "egress").Select(e => e.GetProperty("data").GetProperty("decision").GetString()!).ToArray();
        Assert.Equal(["allowed", "refused"], decisions);
        Assert.True(AuditLog.Verify(_dir).IsValid);
    }

    [Fact]
    public void GuardFromConfigAllowsOnlyConfiguredEndpoints()
    {
        var (config, errors) = HearthConfigLoader.CheckText("privacy:\n  allowed_endpoints: [ http://127.0.0.1:8080 ]\nproviders:\n  ollama: { enabled: false }\n");
        Assert.Empty(errors);
        var guard = HearthHttp.CreateGuard(config);
        var rule = Assert.Single(guard.Rules);
        Assert.Equal(("http", "127.0.0.1", 8080), (rule.Scheme, rule.Host, rule.Port));
        Assert.Throws<EgressDeniedException>(() => guard.Admit(new Uri("https://127.0.0.1:8080/")));
        Assert.Same(rule, guard.Admit(new Uri("http://127.0.0.1:8080/v1/chat")));
    }
}
