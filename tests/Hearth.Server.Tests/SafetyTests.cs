using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace Hearth.Server.Tests;

/// <summary>Bad requests get the right status and a JSON error in the endpoint's dialect; the server keeps serving.</summary>
public sealed class SafetyTests
{
    private static StringContent Raw(string text) => new(text, Encoding.UTF8, "application/json");

    private static JsonObject Chat(string model = TestServer.Model, int maxTokens = 4) => new()
    {
        ["model"] = model, ["max_tokens"] = maxTokens, ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "Once upon a time" }),
    };

    private static async Task<JsonObject> ErrorOf(HttpResponseMessage r)
    {
        Assert.Equal("application/json", r.Content.Headers.ContentType?.MediaType);
        return JsonNode.Parse(await r.Content.ReadAsStringAsync())!.AsObject();
    }

    private static async Task AssertStillServes(TestServer s)
    {
        using var ok = await s.Http.PostAsync("/v1/chat/completions", ClientTests.Body(Chat()));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.False(string.IsNullOrEmpty((string?)JsonNode.Parse(await ok.Content.ReadAsStringAsync())!["choices"]![0]!["message"]!["content"]));
    }

    [Fact]
    public async Task Malformed_json_wrong_types_and_unknown_models_get_400_and_404_in_each_dialect()
    {
        await using var s = await TestServer.StartAsync();

        using (var r = await s.Http.PostAsync("/v1/chat/completions", Raw("{\"model\": \"x\", \"messages\": [")))
        {
            Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
            var e = (await ErrorOf(r))["error"]!;
            Assert.Equal("invalid_request_error", (string?)e["type"]);
            Assert.Contains("not valid JSON", (string?)e["message"], StringComparison.Ordinal);
        }

        var wrong = Chat();
        wrong["temperature"] = "hot";
        using (var r = await s.Http.PostAsync("/v1/chat/completions", ClientTests.Body(wrong)))
        {
            Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
            var e = (await ErrorOf(r))["error"]!;
            Assert.Equal("temperature", (string?)e["param"]);
            Assert.Contains("must be a number; got a string", (string?)e["message"], StringComparison.Ordinal);
        }

        var badRole = Chat();
        badRole["messages"]![0]!["role"] = "wizard";
        using (var r = await s.Http.PostAsync("/v1/chat/completions", ClientTests.Body(badRole)))
        {
            Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
            Assert.Equal("messages[0].role", (string?)(await ErrorOf(r))["error"]!["param"]);
        }

        using (var r = await s.Http.PostAsync("/v1/chat/completions", ClientTests.Body(Chat(model: "nope:latest"))))
        {
            Assert.Equal(HttpStatusCode.NotFound, r.StatusCode);
            var e = (await ErrorOf(r))["error"]!;
            Assert.Equal("model_not_found", (string?)e["code"]);
            Assert.Contains("hearth pull", (string?)e["message"], StringComparison.Ordinal);
        }

        using (var r = await s.Http.PostAsync("/v1/chat/completions", ClientTests.Body(Chat(maxTokens: 1_000_000))))
        {
            Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
            Assert.Equal("max_tokens", (string?)(await ErrorOf(r))["error"]!["param"]);
        }

        // Ollama dialect: {"error": "..."}.
        using (var r = await s.Http.PostAsync("/api/chat", Raw("[1,2]")))
        {
            Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
            Assert.Contains("must be a JSON object", (string?)(await ErrorOf(r))["error"], StringComparison.Ordinal);
        }

        using (var r = await s.Http.PostAsync("/api/generate", Raw("{\"model\":\"nope:latest\",\"prompt\":\"hi\",\"stream\":false}")))
        {
            Assert.Equal(HttpStatusCode.NotFound, r.StatusCode);
            Assert.Contains("not in the store", (string?)(await ErrorOf(r))["error"], StringComparison.Ordinal);
        }

        using (var r = await s.Http.PostAsync("/api/show", Raw("{\"model\":\"nope:latest\"}")))
            Assert.Equal(HttpStatusCode.NotFound, r.StatusCode);
        using (var r = await s.Http.GetAsync("/v2/nothing"))
            Assert.Equal(HttpStatusCode.NotFound, r.StatusCode);

        await AssertStillServes(s);
    }

    [Fact]
    public async Task Oversized_body_gets_413()
    {
        await using var s = await TestServer.StartAsync(new HearthServerOptions { MaxRequestBodyBytes = 4096 });
        var big = Chat();
        big["messages"]![0]!["content"] = new string('a', 100_000);
        using var r = await s.Http.PostAsync("/v1/chat/completions", ClientTests.Body(big));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, r.StatusCode);
        Assert.Equal("body_too_large", (string?)(await ErrorOf(r))["error"]!["code"]);
        await AssertStillServes(s);
    }

    [Fact]
    public async Task Api_keys_are_required_when_configured_and_health_stays_open()
    {
        await using var s = await TestServer.StartAsync(new HearthServerOptions { ApiKeys = ["s3cret-key"] });
        using (var r = await s.Http.PostAsync("/v1/chat/completions", ClientTests.Body(Chat())))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode);
            Assert.Equal("invalid_api_key", (string?)(await ErrorOf(r))["error"]!["code"]);
        }

        using (var wrongKey = new HttpRequestMessage(HttpMethod.Get, "/api/tags"))
        {
            wrongKey.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "s3cret-kez");
            using var r = await s.Http.SendAsync(wrongKey);
            Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode);
            Assert.NotNull((string?)(await ErrorOf(r))["error"]);
        }

        using (var health = await s.Http.GetAsync("/health"))
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);

        s.Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "s3cret-key");
        await AssertStillServes(s);
        s.Http.DefaultRequestHeaders.Authorization = null;
        using var withXKey = new HttpRequestMessage(HttpMethod.Get, "/api/tags");
        withXKey.Headers.Add("x-api-key", "s3cret-key");
        using var ok = await s.Http.SendAsync(withXKey);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
    }

    [Fact]
    public async Task A_foreign_host_header_is_refused_as_dns_rebinding()
    {
        await using var s = await TestServer.StartAsync();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/tags");
        request.Headers.Host = "attacker.example.invalid";
        using var r = await s.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.Forbidden, r.StatusCode);
        Assert.Contains("DNS-rebinding", (string?)(await ErrorOf(r))["error"], StringComparison.Ordinal);

        using var local = new HttpRequestMessage(HttpMethod.Get, "/api/tags");
        local.Headers.Host = "localhost:" + s.Url.Port;
        using var ok = await s.Http.SendAsync(local);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
    }

    [Fact]
    public async Task Refuses_to_bind_a_non_loopback_address_without_an_api_key()
    {
        await using var probe = await TestServer.StartAsync();
        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => HearthServer.StartAsync(probe.Runtime, new HearthServerOptions { Host = "0.0.0.0", Port = 0 }));
        Assert.Contains("not a loopback address", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_full_queue_gets_429_with_retry_after_and_a_disconnect_frees_the_slot()
    {
        var loader = new GatedLoader();
        await using var s = await TestServer.StartAsync(new HearthServerOptions { ParallelSlots = 1, QueueLength = 1 }, loader: loader);

        // One streaming request holds the only slot; a second waits in the queue; a third is refused.
        using var holderCts = new CancellationTokenSource();
        var holderRequest = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = ClientTests.Body(new JsonObject
        {
            ["model"] = "gated", ["stream"] = true, ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "x" }),
        }) };
        var holder = await s.Http.SendAsync(holderRequest, HttpCompletionOption.ResponseHeadersRead, holderCts.Token);
        var holderStream = await holder.Content.ReadAsStreamAsync(holderCts.Token);
        var firstLine = await new StreamReader(holderStream).ReadLineAsync(holderCts.Token);
        Assert.Contains("first", firstLine, StringComparison.Ordinal);
        // The first chunk reaches the client before the generator resumes and enters the gate: wait for it.
        await WaitUntil(() => Volatile.Read(ref loader.Started) == 1);

        var waiting = s.Http.PostAsync("/v1/chat/completions", ClientTests.Body(Chat(model: "gated")));
        await WaitUntil(() => s.Server.Context.Slots.Waiting == 1);

        using (var refused = await s.Http.PostAsync("/v1/chat/completions", ClientTests.Body(Chat(model: "gated"))))
        {
            Assert.Equal((HttpStatusCode)429, refused.StatusCode);
            Assert.NotNull(refused.Headers.RetryAfter);
            Assert.Equal("queue_full", (string?)(await ErrorOf(refused))["error"]!["code"]);
        }

        using (var ollamaRefused = await s.Http.PostAsync("/api/generate", ClientTests.Body(new JsonObject { ["model"] = "gated", ["prompt"] = "x", ["stream"] = false })))
        {
            Assert.Equal((HttpStatusCode)429, ollamaRefused.StatusCode);
            Assert.Contains("slots are busy", (string?)(await ErrorOf(ollamaRefused))["error"], StringComparison.Ordinal);
        }

        // The holder disconnects: its generation is cancelled and the waiting request gets the slot.
        await holderCts.CancelAsync();
        holder.Dispose();
        await WaitUntil(() => Volatile.Read(ref loader.Cancelled) == 1);
        await WaitUntil(() => Volatile.Read(ref loader.Started) == 2);
        loader.Gate.SetResult();
        using var served = await waiting;
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        Assert.Equal(0, s.Server.Context.Slots.Running);

        var metrics = await s.Http.GetStringAsync("/metrics");
        Assert.Contains("hearth_queue_rejected_total 2", metrics, StringComparison.Ordinal);
        Assert.Contains("hearth_requests_total{endpoint=\"/v1/chat/completions\",status=\"429\"} 1", metrics, StringComparison.Ordinal);
        Assert.Contains("hearth_egress_connections_total{decision=\"refused\"} 0", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Store_changing_endpoints_can_be_disabled()
    {
        await using var s = await TestServer.StartAsync(new HearthServerOptions { AllowStoreChanges = false });
        using var del = new HttpRequestMessage(HttpMethod.Delete, "/api/delete") { Content = Raw("{\"model\":\"stories:260k\"}") };
        using var r = await s.Http.SendAsync(del);
        Assert.Equal(HttpStatusCode.Forbidden, r.StatusCode);
        using var pull = await s.Http.PostAsync("/api/pull", Raw("{\"model\":\"hf.co/org/repo:Q4_K_M\"}"));
        Assert.Equal(HttpStatusCode.Forbidden, pull.StatusCode);
        Assert.Single(s.Runtime.Store.ReadAll());
    }

    [Fact]
    public async Task Delete_removes_a_model_and_a_pull_to_an_unlisted_host_is_refused_by_the_egress_guard()
    {
        // The hub is a loopback listener that counts connections: even if the guard regressed, the pull could only
        // reach 127.0.0.1, and the test proves it did not.
        var hub = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        hub.Start();
        var connections = 0;
        _ = Task.Run(async () =>
        {
            while (true)
            {
                using var c = await hub.AcceptTcpClientAsync();
                Interlocked.Increment(ref connections);
            }
        });
        var hubUrl = $"http://127.0.0.1:{((IPEndPoint)hub.LocalEndpoint).Port}";
        await using var s = await TestServer.StartAsync(yaml: $"models: {{ default: stories:260k, huggingface_url: '{hubUrl}' }}\n");
        using (var pull = await s.Http.PostAsync("/api/pull", Raw("{\"model\":\"hf.co/org/repo:Q4_K_M\",\"stream\":false}")))
        {
            Assert.Equal(HttpStatusCode.Forbidden, pull.StatusCode);
            Assert.Contains(hubUrl, (string?)(await ErrorOf(pull))["error"], StringComparison.Ordinal);
        }

        hub.Stop();
        Assert.Equal(0, Volatile.Read(ref connections));

        Assert.Equal(0, s.Runtime.EgressCounts.Allowed);
        using var del = new HttpRequestMessage(HttpMethod.Delete, "/api/delete") { Content = Raw("{\"model\":\"stories:260k\"}") };
        using var r = await s.Http.SendAsync(del);
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Empty(s.Runtime.Store.ReadAll());
    }

    /// <summary>Polls <paramref name="condition"/> for up to a minute of wall-clock time (a loaded two-core CI machine can
    /// stretch each 20 ms pause well beyond 20 ms; the state it waits for normally arrives within milliseconds).</summary>
    private static async Task WaitUntil(Func<bool> condition)
    {
        var deadline = System.Diagnostics.Stopwatch.GetTimestamp() + (60 * System.Diagnostics.Stopwatch.Frequency);
        while (!condition() && System.Diagnostics.Stopwatch.GetTimestamp() < deadline)
            await Task.Delay(20);
        Assert.True(condition(), "condition not reached within 60 s");
    }
}
