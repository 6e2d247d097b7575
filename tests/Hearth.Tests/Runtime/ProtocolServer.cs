using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Hearth.Tests.Runtime;

/// <summary>A Kestrel server on 127.0.0.1, port 0, that speaks one provider's wire protocol from canned replies.</summary>
internal sealed class ProtocolServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private ProtocolServer(WebApplication app) => _app = app;

    /// <summary>Request bodies received, in order, with their paths.</summary>
    public ConcurrentQueue<(string Path, JsonObject Body, Dictionary<string, string> Headers)> Received { get; } = new();

    public Uri Url { get; private set; } = null!;

    public static async Task<ProtocolServer> StartAsync(Action<WebApplication, ProtocolServer> map)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var server = new ProtocolServer(app);
        map(app, server);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.Url = new Uri(address.Replace("[::1]", "127.0.0.1", StringComparison.Ordinal) + "/");
        return server;
    }

    public async Task<JsonObject> ReadAsync(HttpContext context)
    {
        var body = await JsonNode.ParseAsync(context.Request.Body) as JsonObject ?? [];
        // Copied: Kestrel reuses the header collection once the request ends.
        Received.Enqueue((context.Request.Path.Value ?? "", body, context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase)));
        return body;
    }

    public static async Task WriteAsync(HttpContext context, int status, string contentType, IEnumerable<string> chunks)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = contentType;
        foreach (var chunk in chunks)
        {
            await context.Response.WriteAsync(chunk);
            await context.Response.Body.FlushAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
