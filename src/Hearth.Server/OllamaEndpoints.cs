using System.Globalization;
using System.Reflection;
using System.Text.Json.Nodes;
using Hearth.Engine.Generation;
using Hearth.Gguf;
using Hearth.Runtime;
using Hearth.Store;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.AI;

namespace Hearth.Server;

/// <summary>Names the server offers: every stored model, <c>auto</c>, and <c>domain:NAME</c> per configured domain.</summary>
internal static class ModelCatalog
{
    public static IEnumerable<string> Names(HearthRuntime runtime)
        => Stored(runtime).Select(m => m.Manifest.Reference)
            .Append("auto")
            .Concat(runtime.Config.Domains.Keys.Order(StringComparer.Ordinal).Select(d => "domain:" + d));

    public static IReadOnlyList<(string Path, ModelManifest Manifest)> Stored(HearthRuntime runtime)
    {
        try
        {
            return runtime.Store.ReadAll();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    public static JsonObject Details(ModelManifest? m) => new()
    {
        ["parent_model"] = "",
        ["format"] = m?.Format ?? "gguf",
        ["family"] = m?.Architecture ?? "",
        ["families"] = m?.Architecture is { } a ? new JsonArray(a) : null,
        ["parameter_size"] = m?.Parameters is { } p ? FormatParameters(p) : "",
        ["quantization_level"] = m?.FileType ?? "",
    };

    private static string FormatParameters(long p) => p >= 1_000_000_000
        ? (p / 1e9).ToString("0.#", CultureInfo.InvariantCulture) + "B"
        : p >= 1_000_000 ? (p / 1e6).ToString("0.#", CultureInfo.InvariantCulture) + "M" : (p / 1e3).ToString("0.#", CultureInfo.InvariantCulture) + "K";
}

/// <summary>The Ollama API: version, tags, show, ps, chat, generate, embed, pull, delete. NDJSON streaming by default.</summary>
internal static class OllamaEndpoints
{
    private static readonly string Version = typeof(OllamaEndpoints).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    public static void Map(WebApplication app, HearthServerContext server)
    {
        app.MapGet("/api/version", () => Results.Text(new JsonObject { ["version"] = Version }.ToJsonString(), "application/json"));
        // Ollama clients probe "/" for a liveness text; a browser (asking for HTML) is sent to the chat page.
        app.MapMethods("/", ["GET", "HEAD"], (HttpContext http) =>
            server.Options.WebChat && http.Request.Headers.Accept.ToString().Contains("text/html", StringComparison.OrdinalIgnoreCase)
                ? Results.Redirect("/chat")
                : Results.Text("Hearth is running"));
        app.MapGet("/api/tags", () =>
        {
            var models = new JsonArray();
            foreach (var (_, m) in ModelCatalog.Stored(server.Runtime))
            {
                var digest = m.ModelLayers.FirstOrDefault()?.Hex ?? "";
                models.Add(new JsonObject
                {
                    ["name"] = m.Reference, ["model"] = m.Reference,
                    ["modified_at"] = m.PulledAt.ToString("O", CultureInfo.InvariantCulture),
                    ["size"] = m.Size, ["digest"] = digest, ["details"] = ModelCatalog.Details(m),
                });
            }

            return Results.Text(new JsonObject { ["models"] = models }.ToJsonString(), "application/json");
        });
        app.MapGet("/api/ps", () =>
        {
            var models = new JsonArray();
            foreach (var m in server.Runtime.LoadedModels)
            {
                var manifest = ModelReference.TryParse(m.Name, out _, out _) ? server.Runtime.Store.Find(m.Name)?.Manifest : null;
                models.Add(new JsonObject
                {
                    ["name"] = m.Name, ["model"] = m.Name, ["size"] = m.EstimatedBytes,
                    ["digest"] = m.Digest?.Replace("sha256:", "", StringComparison.Ordinal) ?? "",
                    ["details"] = ModelCatalog.Details(manifest),
                    ["expires_at"] = (m.ExpiresAt ?? DateTimeOffset.MaxValue).ToString("O", CultureInfo.InvariantCulture),
                    ["size_vram"] = 0,
                    ["in_flight"] = m.InFlight,
                });
            }

            return Results.Text(new JsonObject { ["models"] = models }.ToJsonString(), "application/json");
        });
        app.MapPost("/api/show", async (HttpContext http) =>
        {
            var body = await Json.ReadObjectAsync(http.Request, http.RequestAborted).ConfigureAwait(false);
            var name = Json.String(body, "model") ?? Json.RequiredString(body, "name");
            await http.Response.WriteAsJsonAsync(Show(server, name), http.RequestAborted).ConfigureAwait(false);
        });
        app.MapPost("/api/chat", (HttpContext http) => GenerateAsync(http, server, chat: true));
        app.MapPost("/api/generate", (HttpContext http) => GenerateAsync(http, server, chat: false));
        app.MapPost("/api/embed", async (HttpContext http) =>
        {
            var body = await Json.ReadObjectAsync(http.Request, http.RequestAborted).ConfigureAwait(false);
            var model = Json.RequiredString(body, "model");
            var inputs = Json.Strings(body, "input", 2048) ?? throw ApiException.BadRequest("'input' is required: a string or an array of strings", "input");
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var result = await server.EmbedAsync(model, inputs, null, http.RequestAborted).ConfigureAwait(false);
            var embeddings = new JsonArray();
            foreach (var e in result)
                embeddings.Add(new JsonArray([.. e.Vector.ToArray().Select(v => (JsonNode?)JsonValue.Create(v))]));
            var answer = new JsonObject
            {
                ["model"] = model,
                ["embeddings"] = embeddings,
                ["total_duration"] = (long)(clock.Elapsed.TotalMilliseconds * 1_000_000),
                ["prompt_eval_count"] = result.Usage?.InputTokenCount ?? 0,
            };
            return Results.Text(answer.ToJsonString(), "application/json");
        });
        app.MapPost("/api/pull", (HttpContext http) => PullAsync(http, server));
        app.MapDelete("/api/delete", async (HttpContext http) =>
        {
            RequireStoreChanges(server);
            var body = await Json.ReadObjectAsync(http.Request, http.RequestAborted).ConfigureAwait(false);
            var name = Json.String(body, "model") ?? Json.RequiredString(body, "name");
            if (server.Runtime.Store.Find(name) is null)
                throw new ApiException(404, $"model '{name}' not found");
            server.Runtime.Unload(name);
            server.Runtime.Store.Remove(name);
            http.Response.StatusCode = 200;
        });
    }

    private static void RequireStoreChanges(HearthServerContext server)
    {
        if (!server.Options.AllowStoreChanges)
            throw new ApiException(403, "store-changing endpoints (/api/pull, /api/delete) are disabled on this server (hearth serve --no-store-changes)");
    }

    private static JsonObject Show(HearthServerContext server, string name)
    {
        string path;
        ModelManifest? manifest = null;
        if (name.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase) && File.Exists(name))
        {
            path = name;
        }
        else
        {
            if (server.Runtime.Store.Find(name) is not { } found)
                throw new ApiException(404, $"model '{name}' not found");
            manifest = found.Manifest;
            if (!server.Runtime.Store.TryResolve(name, out path))
                throw new ApiException(404, $"model '{name}' not found");
        }

        using var file = GgufFile.Open(path);
        var info = new JsonObject();
        foreach (var kv in file.Metadata)
        {
            if (kv.Value.Type == GgufValueType.Array)
                continue;
            info[kv.Key] = kv.Value.ToString();
        }

        return new JsonObject
        {
            ["modelfile"] = "",
            ["parameters"] = "",
            ["template"] = file.Metadata.ChatTemplate ?? "",
            ["details"] = ModelCatalog.Details(manifest),
            ["model_info"] = info,
            ["capabilities"] = Hearth.Engine.Generation.ToolCalling.Detect(file.Metadata.ChatTemplate) == Hearth.Engine.Generation.ToolCallFormat.None
                ? new JsonArray("completion") : new JsonArray("completion", "tools"),
            ["modified_at"] = (manifest?.PulledAt ?? File.GetLastWriteTimeUtc(path)).ToString("O", CultureInfo.InvariantCulture),
        };
    }

    private static async Task GenerateAsync(HttpContext http, HearthServerContext server, bool chat)
    {
        var ct = http.RequestAborted;
        var body = await Json.ReadObjectAsync(http.Request, ct).ConfigureAwait(false);
        var model = Json.RequiredString(body, "model");
        var keepAlive = HearthServerContext.KeepAlive(body);
        var stream = Json.Bool(body, "stream") ?? true;
        List<ChatMessage> messages;
        var raw = false;
        if (chat)
        {
            var array = Json.Array(body, "messages") ?? [];
            messages = [];
            for (var i = 0; i < array.Count; i++)
            {
                var prefix = $"messages[{i}]";
                if (array[i] is not JsonObject m)
                    throw ApiException.BadRequest($"'{prefix}' must be an object");
                var role = Json.RequiredString(m, "role", prefix) switch
                {
                    "system" => ChatRole.System,
                    "user" => ChatRole.User,
                    "assistant" => ChatRole.Assistant,
                    "tool" => ChatRole.Tool,
                    var other => throw ApiException.BadRequest($"'{prefix}.role' must be system, user, assistant or tool; got '{other}'"),
                };
                messages.Add(ToolWire.Message(role, Json.String(m, "content", prefix) ?? "", m, prefix, argumentsAsString: false));
            }
        }
        else
        {
            var prompt = Json.String(body, "prompt") ?? "";
            raw = Json.Bool(body, "raw") ?? false;
            messages = prompt.Length == 0 ? [] : [new ChatMessage(ChatRole.User, prompt)];
            if (Json.String(body, "system") is { } system && !raw && messages.Count > 0)
                messages.Insert(0, new ChatMessage(ChatRole.System, system));
        }

        var options = server.OptionsFor(model);
        // format: "json" is JSON mode; a schema object is passed on (the embedded engine refuses it with a 400).
        options.ResponseFormat = body["format"] switch
        {
            null => null,
            JsonObject schema => ChatResponseFormat.ForJsonSchema(Json.Element(schema)),
            JsonValue v when v.GetValueKind() == System.Text.Json.JsonValueKind.String && v.GetValue<string>() == "json" => ChatResponseFormat.Json,
            JsonValue v when v.GetValueKind() == System.Text.Json.JsonValueKind.String && v.GetValue<string>().Length == 0 => null,
            var other => throw ApiException.BadRequest($"'format' must be \"json\" or a JSON schema object, not {other.ToJsonString()}", "format"),
        };
        if (raw)
            options.AdditionalProperties![EngineChatOptionKeys.RawPrompt] = true;
        if (keepAlive is { } k)
            options.AdditionalProperties![RuntimeChatOptionKeys.KeepAlive] = k;

        if (messages.Count == 0)
        {
            // Ollama's load/unload request: no prompt, just the model and keep_alive.
            await LoadOrUnloadAsync(http, server, model, keepAlive, chat).ConfigureAwait(false);
            return;
        }

        if (Json.Object(body, "options") is { } o)
        {
            options.Temperature = (float?)Json.Number(o, "temperature", 0, 2, "options");
            options.TopP = (float?)Json.Number(o, "top_p", 0, 1, "options");
            options.TopK = Json.Integer(o, "top_k", 0, int.MaxValue, "options");
            options.Seed = Json.Long(o, "seed", "options");
            options.FrequencyPenalty = (float?)Json.Number(o, "frequency_penalty", -2, 2, "options");
            options.PresencePenalty = (float?)Json.Number(o, "presence_penalty", -2, 2, "options");
            var predict = Json.Integer(o, "num_predict", -2, int.MaxValue, "options");
            options.MaxOutputTokens = server.MaxTokens(predict is null or < 0 ? null : predict, "options.num_predict");
            if (Json.Strings(o, "stop", 16, "options") is { } stop)
                options.StopSequences = stop;
        }

        options.MaxOutputTokens ??= server.Options.DefaultMaxTokens;
        if (chat)
            options.Tools = ToolWire.Tools(body);
        var started = DateTimeOffset.UtcNow;
        using var slot = await server.EnterSlotAsync(ct).ConfigureAwait(false);
        if (!stream)
        {
            var response = await server.Runtime.ChatClient.GetResponseAsync(messages, options, ct).ConfigureAwait(false);
            var answered = response.ModelId ?? model;
            http.Response.Headers["x-hearth-route"] = HearthServerContext.RouteHeader(response.AdditionalProperties, options, answered);
            server.Metrics.Tokens(response.Usage?.InputTokenCount ?? 0, response.Usage?.OutputTokenCount ?? 0);
            var final = Final(answered, chat, response.Text, response.FinishReason, response.Usage, started);
            if (chat && ToolWire.CallsJson(response.Messages.SelectMany(m => m.Contents), openAi: false) is { } calls)
                final["message"]!["tool_calls"] = calls;
            http.Response.ContentType = "application/json";
            await http.Response.WriteAsync(final.ToJsonString(), ct).ConfigureAwait(false);
            return;
        }

        await using var updates = server.Runtime.ChatClient.GetStreamingResponseAsync(messages, options, ct).GetAsyncEnumerator(ct);
        var more = await updates.MoveNextAsync().ConfigureAwait(false);
        var answeredModel = (more ? updates.Current.ModelId : null) ?? options.ModelId ?? model;
        http.Response.Headers["x-hearth-route"] = HearthServerContext.RouteHeader(more ? updates.Current.AdditionalProperties : null, options, answeredModel);
        http.Response.ContentType = "application/x-ndjson";
        UsageDetails? usage = null;
        ChatFinishReason? finish = null;
        try
        {
            while (more)
            {
                var u = updates.Current;
                finish ??= u.FinishReason;
                foreach (var c in u.Contents)
                {
                    if (c is UsageContent uc)
                        usage = uc.Details;
                }

                if (u.Text.Length > 0)
                    await Line(http, Partial(answeredModel, chat, u.Text), ct).ConfigureAwait(false);
                if (chat && ToolWire.CallsJson(u.Contents, openAi: false) is { } calls)
                {
                    var partial = Partial(answeredModel, chat, "");
                    partial["message"]!["tool_calls"] = calls;
                    await Line(http, partial, ct).ConfigureAwait(false);
                }
                more = await updates.MoveNextAsync().ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            await Line(http, ApiException.From(ex).OllamaBody(), ct).ConfigureAwait(false);
            return;
        }

        server.Metrics.Tokens(usage?.InputTokenCount ?? 0, usage?.OutputTokenCount ?? 0);
        await Line(http, Final(answeredModel, chat, "", finish, usage, started), ct).ConfigureAwait(false);
    }

    private static async Task LoadOrUnloadAsync(HttpContext http, HearthServerContext server, string model, TimeSpan? keepAlive, bool chat)
    {
        var runtime = server.Runtime;
        string doneReason;
        if (keepAlive == TimeSpan.Zero)
        {
            runtime.Unload(model);
            doneReason = "unload";
        }
        else
        {
            using (await runtime.Host.AcquireAsync(model, keepAlive, http.RequestAborted).ConfigureAwait(false))
            {
            }

            doneReason = "load";
        }

        var result = new JsonObject { ["model"] = model, ["created_at"] = DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture) };
        if (chat)
            result["message"] = new JsonObject { ["role"] = "assistant", ["content"] = "" };
        else
            result["response"] = "";
        result["done"] = true;
        result["done_reason"] = doneReason;
        http.Response.ContentType = "application/json";
        await http.Response.WriteAsync(result.ToJsonString(), http.RequestAborted).ConfigureAwait(false);
    }

    private static JsonObject Partial(string model, bool chat, string text)
    {
        var o = new JsonObject { ["model"] = model, ["created_at"] = DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture) };
        if (chat)
            o["message"] = new JsonObject { ["role"] = "assistant", ["content"] = text };
        else
            o["response"] = text;
        o["done"] = false;
        return o;
    }

    private static JsonObject Final(string model, bool chat, string text, ChatFinishReason? finish, UsageDetails? usage, DateTimeOffset started)
    {
        var o = Partial(model, chat, text);
        o["done"] = true;
        o["done_reason"] = finish == ChatFinishReason.Length ? "length" : "stop";
        o["total_duration"] = (long)((DateTimeOffset.UtcNow - started).TotalMilliseconds * 1e6);
        o["prompt_eval_count"] = usage?.InputTokenCount ?? 0;
        o["eval_count"] = usage?.OutputTokenCount ?? 0;
        return o;
    }

    private static async Task Line(HttpContext http, JsonObject o, CancellationToken ct)
    {
        await http.Response.WriteAsync(o.ToJsonString() + "\n", ct).ConfigureAwait(false);
        await http.Response.Body.FlushAsync(ct).ConfigureAwait(false);
    }

    private static async Task PullAsync(HttpContext http, HearthServerContext server)
    {
        RequireStoreChanges(server);
        var ct = http.RequestAborted;
        var body = await Json.ReadObjectAsync(http.Request, ct).ConfigureAwait(false);
        var name = Json.String(body, "model") ?? Json.RequiredString(body, "name");
        var stream = Json.Bool(body, "stream") ?? true;
        var runtime = server.Runtime;
        // Over the API a source is not consent to reach its host: only the configured allow-list can be reached.
        var puller = new ModelPuller(runtime.Store, runtime.Config, new System.Collections.Hashtable(), runtime.Audit) { AllowSourceHost = false };
        var source = ModelPuller.SuggestPullCommand(name)["hearth pull ".Length..];
        if (!stream)
        {
            await puller.PullAsync(source, new PullOptions { Name = name.Contains('/', StringComparison.Ordinal) ? null : name }, ct).ConfigureAwait(false);
            await http.Response.WriteAsJsonAsync(new { status = "success" }, ct).ConfigureAwait(false);
            return;
        }

        http.Response.ContentType = "application/x-ndjson";
        await Line(http, new JsonObject { ["status"] = "pulling manifest" }, ct).ConfigureAwait(false);
        try
        {
            var result = await puller.PullAsync(source, new PullOptions { Name = name.Contains('/', StringComparison.Ordinal) ? null : name }, ct).ConfigureAwait(false);
            await Line(http, new JsonObject { ["status"] = "verifying sha256 digest", ["digest"] = result.Manifest.ModelLayers.FirstOrDefault()?.Digest }, ct).ConfigureAwait(false);
            await Line(http, new JsonObject { ["status"] = "success" }, ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            await Line(http, ApiException.From(ex).OllamaBody(), ct).ConfigureAwait(false);
        }
    }
}
