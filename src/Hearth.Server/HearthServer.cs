using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Hearth.Privacy;
using Hearth.Routing;
using Hearth.Runtime;
using Hearth.Store;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Hearth.Server;

/// <summary>
/// <c>hearth serve</c>: the OpenAI- and Ollama-compatible HTTP API over a <see cref="HearthRuntime"/>, safe by
/// default (loopback, Host allowlist, optional API keys, body and token limits, a bounded generation queue).
/// </summary>
public sealed class HearthServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private HearthServer(WebApplication app, HearthServerContext context)
    {
        _app = app;
        Context = context;
    }

    internal HearthServerContext Context { get; }

    /// <summary>The address it listens on, e.g. <c>http://127.0.0.1:11435</c>.</summary>
    public Uri Address { get; private set; } = null!;

    /// <summary>
    /// Starts the server. Refuses a non-loopback <see cref="HearthServerOptions.Host"/> unless API keys are configured.
    /// </summary>
    public static async Task<HearthServer> StartAsync(HearthRuntime runtime, HearthServerOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        ArgumentNullException.ThrowIfNull(options);
        if (!IPAddress.TryParse(options.Host, out var bind) && !options.Host.Equals("localhost", StringComparison.OrdinalIgnoreCase))
            throw new ArgumentException($"--host must be an IP address or localhost; got '{options.Host}'", nameof(options));
        var loopback = bind is null || IPAddress.IsLoopback(bind);
        if (!loopback && options.ApiKeys.Count == 0)
            throw new InvalidOperationException(
                $"refusing to listen on {options.Host}, which is not a loopback address, without an API key: set one (hearth serve --api-key-env VAR) or bind 127.0.0.1");

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        // Every server log line goes through the PHI redactor into $HEARTH_HOME/logs/hearth.log (none when logging_mode: disabled).
        if (RedactingLoggerProvider.ForConfig(runtime.Config, LogLevel.Warning) is { } logs)
            builder.Logging.AddProvider(logs);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = options.MaxRequestBodyBytes;
            k.AddServerHeader = false;
            if (bind is null)
                k.ListenLocalhost(options.Port);
            else
                k.Listen(bind, options.Port);
        });
        if (options.CorsOrigins.Count > 0)
            builder.Services.AddCors(c => c.AddDefaultPolicy(p => p.WithOrigins([.. options.CorsOrigins]).AllowAnyHeader().AllowAnyMethod()));

        var app = builder.Build();
        var context = new HearthServerContext(runtime, options);
        var server = new HearthServer(app, context);
        app.Use(context.GuardAsync);
        if (options.CorsOrigins.Count > 0)
            app.UseCors();
        OpenAIEndpoints.Map(app, context);
        OllamaEndpoints.Map(app, context);
        if (options.WebChat)
            Server.WebChat.Map(app);
        app.MapGet("/health", () => Results.Json(new { status = "ok" }));
        app.MapGet("/metrics", () => Results.Text(context.RenderMetrics(), "text/plain; version=0.0.4; charset=utf-8"));
        app.MapFallback((HttpContext http) => HearthServerContext.WriteErrorAsync(http, new ApiException(404, $"no endpoint {http.Request.Method} {http.Request.Path}", "not_found")));

        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.Address = new Uri(address);
        context.BoundPort = server.Address.Port;
        return server;
    }

    /// <summary>Waits until the server stops (Ctrl+C or <paramref name="cancellationToken"/>).</summary>
    public Task WaitForShutdownAsync(CancellationToken cancellationToken = default) => _app.WaitForShutdownAsync(cancellationToken);

    /// <summary>Stops listening; requests in flight are cancelled.</summary>
    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
        Context.Dispose();
    }
}

/// <summary>What every endpoint shares: the runtime, limits, slots, metrics, and the request guard.</summary>
internal sealed class HearthServerContext(HearthRuntime runtime, HearthServerOptions options) : IDisposable
{
    private readonly byte[][] _keyHashes = [.. options.ApiKeys.Select(k => SHA256.HashData(Encoding.UTF8.GetBytes(k)))];

    public HearthRuntime Runtime { get; } = runtime;

    public HearthServerOptions Options { get; } = options;

    public GenerationSlots Slots { get; } = new(options.ParallelSlots, options.QueueLength);

    public ServerMetrics Metrics { get; } = new();

    public int BoundPort { get; set; }

    public static bool IsOllamaPath(PathString path) => path.StartsWithSegments("/api", StringComparison.Ordinal);

    /// <summary>Host allowlist, authentication, metrics and the error barrier around every request.</summary>
    public async Task GuardAsync(HttpContext http, Func<Task> next)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            if (!HostAllowed(http.Request.Host))
                throw new ApiException(403, $"Host header '{http.Request.Host.Value}' is not allowed (DNS-rebinding protection); allowed: localhost, 127.0.0.1, [::1]{string.Concat(Options.AllowedHosts.Select(h => ", " + h))}", "forbidden", null, "host_not_allowed");
            if (_keyHashes.Length > 0 && http.Request.Path != "/health" && !(Options.WebChat && WebChat.IsPagePath(http.Request.Path))
                && !HttpMethods.IsOptions(http.Request.Method) && !Authorized(http.Request))
            {
                http.Response.Headers.WWWAuthenticate = "Bearer";
                throw new ApiException(401, "missing or invalid API key: send Authorization: Bearer <key> or x-api-key: <key>", "authentication_error", null, "invalid_api_key");
            }

            await next().ConfigureAwait(false);
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            await WriteErrorAsync(http, new ApiException(413, $"request body is larger than the {Options.MaxRequestBodyBytes} bytes allowed", "invalid_request_error", null, "body_too_large")).ConfigureAwait(false);
        }
        catch (Exception ex) when (!http.RequestAborted.IsCancellationRequested || ex is not OperationCanceledException)
        {
            await WriteErrorAsync(http, ApiException.From(ex)).ConfigureAwait(false);
        }
        finally
        {
            var endpoint = http.GetEndpoint() is RouteEndpoint re ? re.RoutePattern.RawText ?? "?" : "unmatched";
            Metrics.Request(endpoint, http.Response.StatusCode, Stopwatch.GetElapsedTime(started));
        }
    }

    /// <summary>Writes an error in the endpoint's dialect, unless the response already started (streams report in-band).</summary>
    public static async Task WriteErrorAsync(HttpContext http, ApiException error)
    {
        if (http.Response.HasStarted)
            return;
        http.Response.Clear();
        http.Response.StatusCode = error.Status;
        if (error.RetryAfter is { } s)
            http.Response.Headers.RetryAfter = s.ToString(CultureInfo.InvariantCulture);
        var body = IsOllamaPath(http.Request.Path) ? error.OllamaBody() : error.OpenAIBody();
        http.Response.ContentType = "application/json";
        await http.Response.WriteAsync(body.ToJsonString(), http.RequestAborted).ConfigureAwait(false);
    }

    private bool HostAllowed(HostString host)
    {
        if (!host.HasValue)
            return false;
        var name = host.Host.Trim('[', ']');
        if (name.Equals("localhost", StringComparison.OrdinalIgnoreCase) || name is "127.0.0.1" or "::1" || name.Equals(Options.Host, StringComparison.OrdinalIgnoreCase))
            return true;
        return Options.AllowedHosts.Any(h => h.Equals(name, StringComparison.OrdinalIgnoreCase) || h.Equals(host.Value, StringComparison.OrdinalIgnoreCase));
    }

    private bool Authorized(HttpRequest request)
    {
        string? presented = null;
        var auth = request.Headers.Authorization.ToString();
        if (auth.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            presented = auth[7..].Trim();
        else if (request.Headers.TryGetValue("x-api-key", out var x))
            presented = x.ToString();
        if (string.IsNullOrEmpty(presented))
            return false;
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(presented));
        var ok = false;
        foreach (var k in _keyHashes)
            ok |= CryptographicOperations.FixedTimeEquals(hash, k);
        return ok;
    }

    /// <summary>Embeds <paramref name="inputs"/> with <c>models.embedding</c> for a request naming <paramref name="model"/>
    /// (the configured name, or <c>embedding</c>), in a generation slot. 400 naming the problem when no embedding model
    /// is configured, another model is named, or the configured model is not an embedding model.</summary>
    public async Task<GeneratedEmbeddings<Embedding<float>>> EmbedAsync(string model, IReadOnlyList<string> inputs, int? dimensions, CancellationToken cancellationToken)
    {
        var configured = Runtime.Config.Models.Embedding;
        if (Runtime.EmbeddingGenerator is not { } generator || configured is null)
            throw new ApiException(400, $"model '{model}' does not support embeddings, and no embedding model is configured (set models.embedding in hearth.yaml to an embedding model such as Qwen3-Embedding)", "invalid_request_error", "model", "embeddings_not_supported");
        if (model != "embedding" && !SameModel(model, configured))
            throw new ApiException(400, $"model '{model}' does not support embeddings; this server embeds with '{configured}' (models.embedding), also reachable as 'embedding'", "invalid_request_error", "model", "embeddings_not_supported");
        if (inputs.Count == 0)
            throw ApiException.BadRequest("'input' is empty; give a string or an array of strings", "input");
        using var slot = await EnterSlotAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await generator.GenerateAsync(inputs, dimensions is { } d ? new EmbeddingGenerationOptions { Dimensions = d } : null, cancellationToken).ConfigureAwait(false);
        }
        catch (ModelUnavailableException ex) when (ex.InnerException is Hearth.Engine.Model.ModelLoadException or Hearth.Gguf.GgufFormatException)
        {
            // The configured file is there but is no embedding model (or no valid GGUF): the request cannot be served.
            throw new ApiException(400, ex.Message, "invalid_request_error", "model", "embeddings_not_supported");
        }
        catch (ArgumentException ex)
        {
            // The generator names the argument: options (the requested dimensions) or values (an input text).
            throw ApiException.BadRequest(ex.Message, ex.ParamName == "options" ? "dimensions" : "input");
        }
    }

    /// <summary>Whether two model names mean the same model: equal, or the same store reference (<c>NAME</c> is
    /// <c>NAME:latest</c> and <c>library/NAME</c>, as Ollama clients write it; the store's own manifest identity).</summary>
    private static bool SameModel(string a, string b) =>
        a == b || (ModelReference.TryParse(a, out var x, out _) && ModelReference.TryParse(b, out var y, out _)
            && string.Equals(string.Join('/', x!.ManifestPathParts), string.Join('/', y!.ManifestPathParts), StringComparison.OrdinalIgnoreCase));

    /// <summary>Waits for a generation slot; 429 with Retry-After when the queue is full.</summary>
    public async Task<IDisposable> EnterSlotAsync(CancellationToken cancellationToken)
    {
        var slot = await Slots.TryEnterAsync(cancellationToken).ConfigureAwait(false);
        if (slot is not null)
            return slot;
        Metrics.QueueFull();
        throw new ApiException(429, $"all {Slots.Slots} generation slots are busy and {Slots.QueueLength} requests are already waiting; retry later", "rate_limit_exceeded", null, "queue_full") { RetryAfter = 1 };
    }

    /// <summary>Applies the request's <c>model</c>: <c>auto</c> (router decides), <c>domain:NAME</c>, or a model name (embedded).</summary>
    public ChatOptions OptionsFor(string? model)
    {
        var options = new ChatOptions { AdditionalProperties = [] };
        if (string.IsNullOrWhiteSpace(model) || model == "auto")
            return options;
        if (model.StartsWith("domain:", StringComparison.Ordinal))
        {
            var domain = model["domain:".Length..];
            if (!Runtime.Config.Domains.ContainsKey(domain))
                throw new ApiException(404, $"unknown domain '{domain}'; configured: {string.Join(", ", Runtime.Config.Domains.Keys)}", "invalid_request_error", "model", "model_not_found");
            options.AdditionalProperties[HearthChatOptionKeys.Domain] = domain;
            return options;
        }

        options.ModelId = model;
        options.AdditionalProperties[HearthChatOptionKeys.Provider] = "embedded";
        return options;
    }

    /// <summary>Checks the token limit the request asks for against the server's.</summary>
    public int MaxTokens(int? requested, string param)
    {
        if (requested is { } r && r > Options.MaxTokens)
            throw ApiException.BadRequest($"'{param}' is {r}; this server allows at most {Options.MaxTokens}", param);
        return requested ?? Options.DefaultMaxTokens;
    }

    /// <summary>The x-hearth-route header: which domain, model and provider answered, and why.</summary>
    public static string RouteHeader(AdditionalPropertiesDictionary? props, ChatOptions options, string? answeredModel)
    {
        var inv = CultureInfo.InvariantCulture;
        if (props?.TryGetValue(RoutingChatOptionKeys.Decision, out var d) == true && d is RouteDecision decision)
            return string.Create(inv, $"domain={decision.Domain}; model={answeredModel ?? decision.Model}; provider={decision.Provider}; confidence={decision.Confidence:0.000}; fallback={(decision.IsFallback ? "true" : "false")}");
        var domain = options.AdditionalProperties?.TryGetValue(HearthChatOptionKeys.Domain, out var dn) == true ? dn as string : null;
        return domain is not null ? $"domain={domain}; model={answeredModel}; explicit" : $"model={answeredModel}; provider=embedded; explicit";
    }

    public string RenderMetrics()
    {
        var loaded = Runtime.LoadedModels;
        return Metrics.Render(Slots, loaded.Count, loaded.Sum(m => m.EstimatedBytes), Runtime.EgressCounts);
    }

    /// <summary>Parses Ollama's keep_alive: a duration string ("5m", "1h30m", "10s"), seconds as a number, or negative = forever.</summary>
    public static TimeSpan? KeepAlive(JsonObject body)
    {
        switch (body["keep_alive"])
        {
            case null:
                return null;
            case JsonValue v when v.TryGetValue<double>(out var seconds):
                return seconds < 0 ? TimeSpan.FromSeconds(-1) : TimeSpan.FromSeconds(seconds);
            case JsonValue v when v.TryGetValue<string>(out var s):
                if (double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var secs))
                    return secs < 0 ? TimeSpan.FromSeconds(-1) : TimeSpan.FromSeconds(secs);
                if (s.StartsWith('-'))
                    return TimeSpan.FromSeconds(-1);
                return Configuration.ConfigValues.TryParseDuration(s, out var d) ? d : throw ApiException.BadRequest($"'keep_alive' must be a duration such as 5m, 1h or 30s, or a number of seconds; got '{s}'", "keep_alive");
            default:
                throw ApiException.BadRequest("'keep_alive' must be a duration string or a number of seconds", "keep_alive");
        }
    }

    public void Dispose() => Slots.Dispose();
}
