using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Hearth.Configuration;

namespace Hearth.Privacy;

/// <summary>One allowed endpoint: scheme, host and port (the path of the configured URL is not part of the rule).</summary>
internal sealed record EgressRule(string Scheme, string Host, int Port, IPAddress? Literal)
{
    public static EgressRule From(Uri uri)
    {
        var host = uri.IdnHost.Trim('[', ']').ToLowerInvariant();
        return new EgressRule(uri.Scheme.ToLowerInvariant(), host, uri.Port, IPAddress.TryParse(host, out var ip) ? Normalize(ip) : null);
    }

    public bool IsLocalhostName => Literal is null && Host == "localhost";

    public override string ToString() => $"allow {Scheme}://{(Literal?.AddressFamily == AddressFamily.InterNetworkV6 ? "[" + Host + "]" : Host)}:{Port}";

    public static IPAddress Normalize(IPAddress ip) => ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4() : ip;
}

/// <summary>Counts of egress decisions since the guard was created.</summary>
internal sealed class EgressCounters
{
    private long _allowed;
    private long _refused;

    public long Allowed => Interlocked.Read(ref _allowed);

    public long Refused => Interlocked.Read(ref _refused);

    public void CountAllowed() => Interlocked.Increment(ref _allowed);

    public void CountRefused() => Interlocked.Increment(ref _refused);
}

/// <summary>
/// Decides and enforces which outbound connections Hearth may make. Rules, checked before any socket opens:
/// <list type="number">
/// <item>The request's scheme, host and port must equal those of a configured endpoint (names compare
/// case-insensitively; <c>localhost</c> and <c>127.0.0.1</c> are different hosts, so allowing one does not allow the
/// other). Loopback is not allowed wholesale: only the configured local endpoints.</item>
/// <item>The guard resolves the name itself and connects only to the addresses it checked: an endpoint written as an IP
/// literal allows exactly that address; <c>localhost</c> may resolve only to loopback addresses; any other name may not
/// resolve to loopback, unspecified, link-local (e.g. cloud metadata 169.254.169.254) or multicast addresses — a DNS
/// answer containing any such address is refused as a rebinding attempt. Private (RFC 1918) addresses are allowed for
/// names, so an on-premises cluster named in the allowlist works.</item>
/// <item>After the connection is made, the address actually connected to is checked again.</item>
/// <item>Redirects are followed by Hearth, not the handler, and each hop must pass rule 1; proxies are never used.</item>
/// </list>
/// Every decision is counted and written to the audit trail when one is attached.
/// </summary>
internal sealed class EgressGuard
{
    private readonly EgressRule[] _rules;
    private readonly AuditLog? _audit;
    private readonly Func<string, CancellationToken, Task<IPAddress[]>> _resolve;

    public EgressGuard(IEnumerable<Uri> allowed, AuditLog? audit = null, Func<string, CancellationToken, Task<IPAddress[]>>? resolve = null)
    {
        ArgumentNullException.ThrowIfNull(allowed);
        _rules = allowed.Select(EgressRule.From).Distinct().ToArray();
        _audit = audit;
        _resolve = resolve ?? ((host, ct) => Dns.GetHostAddressesAsync(host, ct));
    }

    public EgressCounters Counters { get; } = new();

    public IReadOnlyList<EgressRule> Rules => _rules;

    /// <summary>Rule 1 for a request URI: returns the matching rule or refuses (counted and audited).</summary>
    public EgressRule Admit(Uri uri, string? context = null)
    {
        ArgumentNullException.ThrowIfNull(uri);
        if (!uri.IsAbsoluteUri)
            throw Refuse(uri.ToString(), "the request URI is not absolute", context);
        var rule = Match(uri.Scheme, uri.IdnHost, uri.Port);
        return rule ?? throw Refuse(Describe(uri), NoRuleReason(uri.Scheme, uri.IdnHost, uri.Port), context);
    }

    /// <summary>The <see cref="SocketsHttpHandler.ConnectCallback"/>: rules 1–3 at the socket level.</summary>
    public async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var scheme = context.InitialRequestMessage.RequestUri?.Scheme ?? "http";
        var host = context.DnsEndPoint.Host;
        var port = context.DnsEndPoint.Port;
        var destination = $"{scheme}://{host}:{port}";
        var rule = Match(scheme, host, port) ?? throw Refuse(destination, NoRuleReason(scheme, host, port), "connect");

        IPAddress[] addresses;
        if (rule.Literal is not null)
        {
            addresses = [rule.Literal];
        }
        else
        {
            addresses = (await _resolve(rule.Host, cancellationToken).ConfigureAwait(false)).Select(EgressRule.Normalize).ToArray();
            if (addresses.Length == 0)
                throw Refuse(destination, $"{rule}: the name did not resolve", "connect");
            foreach (var a in addresses)
            {
                if (AddressRefusal(rule, a) is { } why)
                    throw Refuse($"{destination} ({a})", $"{rule}: {why}", "connect");
            }
        }

        Exception? last = null;
        foreach (var address in addresses)
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(address, port), cancellationToken).ConfigureAwait(false);
                var remote = socket.RemoteEndPoint as IPEndPoint;
                var actual = remote is null ? null : EgressRule.Normalize(remote.Address);
                if (actual is null || remote!.Port != port || AddressRefusal(rule, actual) is not null)
                {
                    socket.Dispose();
                    throw Refuse($"{destination} ({remote})", $"{rule}: connected address is not allowed", "connect");
                }

                Counters.CountAllowed();
                Audit("allowed", $"{destination} ({actual})", rule.ToString(), "connect");
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch (SocketException ex)
            {
                socket.Dispose();
                last = ex;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }

        throw new HttpRequestException($"Could not connect to {destination}.", last);
    }

    private EgressRule? Match(string scheme, string host, int port)
    {
        var h = host.Trim('[', ']').ToLowerInvariant();
        var ip = IPAddress.TryParse(h, out var parsed) ? EgressRule.Normalize(parsed) : null;
        foreach (var r in _rules)
        {
            if (r.Port != port || !r.Scheme.Equals(scheme, StringComparison.OrdinalIgnoreCase))
                continue;
            if (ip is not null ? ip.Equals(r.Literal) : r.Literal is null && r.Host == h)
                return r;
        }

        return null;
    }

    private string NoRuleReason(string scheme, string host, int port)
    {
        if (_rules.Length == 0)
            return "no endpoint is allowed (privacy.allowed_endpoints and enabled providers are empty)";
        var sameHost = _rules.Where(r => string.Equals(r.Host, host.Trim('[', ']'), StringComparison.OrdinalIgnoreCase)).ToArray();
        return sameHost.Length > 0
            ? $"{scheme}://{host}:{port} is not an allowed endpoint (this host is allowed only as: {string.Join(", ", sameHost.Select(r => r.ToString()))})"
            : $"{scheme}://{host}:{port} is not an allowed endpoint (allowed: {string.Join(", ", _rules.Select(r => r.ToString()))})";
    }

    private static string? AddressRefusal(EgressRule rule, IPAddress address)
    {
        if (rule.Literal is not null)
            return address.Equals(rule.Literal) ? null : $"address {address} is not {rule.Literal}";
        if (rule.IsLocalhostName)
            return IPAddress.IsLoopback(address) ? null : $"localhost resolved to non-loopback address {address}";
        if (IPAddress.IsLoopback(address))
            return $"the name resolved to loopback address {address}; only endpoints written as loopback may reach it";
        if (address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any))
            return $"the name resolved to the unspecified address {address}";
        if (address.IsIPv6LinkLocal || address.IsIPv6Multicast || address.IsIPv6SiteLocal)
            return $"the name resolved to link-local/multicast address {address}";
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            var b = address.GetAddressBytes();
            if (b[0] == 169 && b[1] == 254)
                return $"the name resolved to link-local address {address} (e.g. a cloud metadata service)";
            if (b[0] >= 224)
                return $"the name resolved to multicast/reserved address {address}";
            if (b[0] == 0)
                return $"the name resolved to reserved address {address}";
        }

        return null;
    }

    private EgressDeniedException Refuse(string destination, string rule, string? context)
    {
        Counters.CountRefused();
        Audit("refused", destination, rule, context);
        return new EgressDeniedException(destination, rule);
    }

    private void Audit(string decision, string destination, string rule, string? context)
    {
        var data = new JsonObject { ["decision"] = decision, ["destination"] = destination, ["rule"] = rule };
        if (context is not null)
            data["stage"] = context;
        _audit?.Append("egress", data);
    }

    private static string Describe(Uri uri) => uri.GetLeftPart(UriPartial.Path);
}

/// <summary>Follows redirects itself so that every hop is checked by the guard before it is requested.</summary>
internal sealed class EgressRedirectHandler(EgressGuard guard, int maxRedirects = 10) : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        guard.Admit(request.RequestUri!, "request");
        var current = request;
        for (var hop = 0; ; hop++)
        {
            HttpResponseMessage response;
            try
            {
                response = await base.SendAsync(current, cancellationToken).ConfigureAwait(false);
            }
            catch (HttpRequestException ex) when (ex.InnerException is EgressDeniedException denied)
            {
                throw new EgressDeniedException(denied.Destination, denied.Rule);
            }

            var status = (int)response.StatusCode;
            if (status is not (301 or 302 or 303 or 307 or 308) || response.Headers.Location is not { } location)
                return response;
            if (hop >= maxRedirects)
            {
                response.Dispose();
                throw new HttpRequestException($"Too many redirects (more than {maxRedirects}) starting at {request.RequestUri}.");
            }

            var target = location.IsAbsoluteUri ? location : new Uri(current.RequestUri!, location);
            response.Dispose();
            try
            {
                guard.Admit(target, "redirect from " + current.RequestUri!.GetLeftPart(UriPartial.Authority));
            }
            catch (EgressDeniedException denied)
            {
                throw new EgressDeniedException(denied.Destination, $"redirect from {current.RequestUri} refused: {denied.Rule}");
            }

            current = NextRequest(current, target, status);
        }
    }

    private static HttpRequestMessage NextRequest(HttpRequestMessage previous, Uri target, int status)
    {
        var keepMethod = status is 307 or 308 || previous.Method == HttpMethod.Get || previous.Method == HttpMethod.Head;
        var next = new HttpRequestMessage(keepMethod ? previous.Method : HttpMethod.Get, target) { Version = previous.Version, VersionPolicy = previous.VersionPolicy };
        if (keepMethod)
            next.Content = previous.Content;
        var sameAuthority = Uri.Compare(previous.RequestUri, target, UriComponents.SchemeAndServer, UriFormat.Unescaped, StringComparison.OrdinalIgnoreCase) == 0;
        foreach (var (name, values) in previous.Headers)
        {
            // Credentials never follow a redirect to another authority.
            if (!sameAuthority && (name.Equals("Authorization", StringComparison.OrdinalIgnoreCase) || name.Equals("Cookie", StringComparison.OrdinalIgnoreCase)))
                continue;
            next.Headers.TryAddWithoutValidation(name, values);
        }

        return next;
    }
}

/// <summary>The one place Hearth creates <see cref="HttpClient"/>s: every client goes through an <see cref="EgressGuard"/>.</summary>
internal static class HearthHttp
{
    /// <summary>A guard allowing exactly the configuration's <see cref="HearthConfig.EgressAllowList"/>.</summary>
    public static EgressGuard CreateGuard(HearthConfig config, AuditLog? audit = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        return new EgressGuard(config.EgressAllowList, audit);
    }

    /// <summary>Creates a client whose every connection and redirect is checked by <paramref name="guard"/>.</summary>
    public static HttpClient CreateClient(EgressGuard guard, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(guard);
        var sockets = new SocketsHttpHandler
        {
            ConnectCallback = guard.ConnectAsync,
            AllowAutoRedirect = false,
            UseProxy = false,
            UseCookies = false,
            AutomaticDecompression = DecompressionMethods.All,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        };
        var client = new HttpClient(new EgressRedirectHandler(guard) { InnerHandler = sockets }, disposeHandler: true)
        {
            Timeout = timeout ?? TimeSpan.FromMinutes(10),
        };
        client.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("Hearth", "0.1"));
        return client;
    }
}
