using System.Diagnostics;
using System.Net;
using System.Text.RegularExpressions;

namespace Hearth.Server.Tests;

/// <summary>The local chat page (/chat): served with a policy that lets it talk to this server only, and nothing else.</summary>
public sealed class WebChatTests
{
    [Fact]
    public async Task ThePageAndItsFilesAreServedWithAPolicyThatAllowsOnlyThisServer()
    {
        await using var s = await TestServer.StartAsync();
        string Policy(HttpResponseMessage r) => string.Join(";", r.Headers.GetValues("Content-Security-Policy"));

        using var page = await s.Http.GetAsync("/chat");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        var html = await page.Content.ReadAsStringAsync();
        Assert.Contains("<script src=\"/chat.js\"", html, StringComparison.Ordinal);
        Assert.Contains("href=\"/chat.css\"", html, StringComparison.Ordinal);
        var policy = Policy(page);
        foreach (var rule in new[] { "default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "form-action 'none'" })
            Assert.Contains(rule, policy, StringComparison.Ordinal);
        Assert.Equal("nosniff", string.Join("", page.Headers.GetValues("X-Content-Type-Options")));
        Assert.Equal("no-referrer", string.Join("", page.Headers.GetValues("Referrer-Policy")));

        using var js = await s.Http.GetAsync("/chat.js");
        Assert.Equal("text/javascript", js.Content.Headers.ContentType?.MediaType);
        var script = await js.Content.ReadAsStringAsync();
        Assert.Contains("\"/v1/chat/completions\"", script, StringComparison.Ordinal);
        Assert.Contains("\"/v1/models\"", script, StringComparison.Ordinal);
        Assert.DoesNotContain("innerHTML", script, StringComparison.Ordinal); // model output is text, never markup
        using var css = await s.Http.GetAsync("/chat.css");
        Assert.Equal("text/css", css.Content.Headers.ContentType?.MediaType);
        // "/" stays Ollama's liveness probe; a browser asking for HTML there is sent to the page.
        using (var probe = await s.Http.GetAsync("/"))
            Assert.Equal("Hearth is running", await probe.Content.ReadAsStringAsync());
        using (var browser = new HttpRequestMessage(HttpMethod.Get, "/"))
        {
            browser.Headers.Accept.ParseAdd("text/html,application/xhtml+xml");
            using var r = await s.Http.SendAsync(browser);
            Assert.Equal(html, await r.Content.ReadAsStringAsync()); // followed the redirect
            Assert.Equal("/chat", r.RequestMessage!.RequestUri!.AbsolutePath);
        }

        // No file names another origin: every URL in them is relative.
        foreach (var text in new[] { html, script, await css.Content.ReadAsStringAsync() })
            Assert.Empty(Regex.Matches(text, @"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", RegexOptions.IgnoreCase));
    }

    [Fact]
    public async Task WithAnApiKeyThePageLoadsButTheApiStillAsksForTheKey()
    {
        await using var s = await TestServer.StartAsync(new HearthServerOptions { ApiKeys = ["k3y"] });
        using (var page = await s.Http.GetAsync("/chat"))
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        using (var js = await s.Http.GetAsync("/chat.js"))
            Assert.Equal(HttpStatusCode.OK, js.StatusCode);
        using (var models = await s.Http.GetAsync("/v1/models"))
            Assert.Equal(HttpStatusCode.Unauthorized, models.StatusCode);
        using (var other = await s.Http.GetAsync("/chat.json"))
            Assert.Equal(HttpStatusCode.Unauthorized, other.StatusCode); // only the page's own files are open
    }

    [Fact]
    public async Task ThePageCanBeTurnedOff()
    {
        await using var s = await TestServer.StartAsync(new HearthServerOptions { WebChat = false });
        using var page = await s.Http.GetAsync("/chat");
        Assert.Equal(HttpStatusCode.NotFound, page.StatusCode);
        using var browser = new HttpRequestMessage(HttpMethod.Get, "/");
        browser.Headers.Accept.ParseAdd("text/html");
        using var root = await s.Http.SendAsync(browser);
        Assert.Equal("Hearth is running", await root.Content.ReadAsStringAsync());
        using var js = await s.Http.GetAsync("/chat.js");
        Assert.Equal(HttpStatusCode.NotFound, js.StatusCode);
    }

    // Runs the served chat.js in Node.js with a minimal stand-in for the page's elements and the real fetch, against
    // the real server: models listed, an answer streamed into the log with its route, JSON mode, an error shown.
    // The stand-in for the page's elements and storage; a driver adds its fetch and what it does.
    private const string StandIn = """
        const [base, script] = process.argv.slice(2);
        const nodes = {};
        function make(tag) {
          return { tag, children: [], className: "", textContent: "", value: "", disabled: false, checked: false, scrollTop: 0, scrollHeight: 0,
            appendChild(c) { this.children.push(c); }, replaceChildren() { this.children = []; }, addEventListener() {} };
        }
        for (const id of ["log", "prompt", "model", "temperature", "json", "send", "stop", "clear", "system", "key", "ask"]) nodes[id] = make(id);
        nodes.temperature.value = "0";
        global.document = { getElementById: id => nodes[id], createElement: make, addEventListener() {} };
        global.sessionStorage = { getItem: () => null, setItem() {} };

        """;

    private const string Driver = StandIn + """
        const realFetch = fetch;
        global.fetch = (url, init) => realFetch(base + url, init);
        require("vm").runInThisContext(require("fs").readFileSync(script, "utf8") + "\n;globalThis.send = send; globalThis.loadModels = loadModels;");
        (async () => {
          await loadModels();
          const out = { models: nodes.model.children.map(o => o.value) };
          nodes.model.value = "stories:260k";
          await send("Once upon a time");
          out.answer = nodes.log.children[1].textContent; out.answerClass = nodes.log.children[1].className;
          out.route = nodes.log.children[1].children[0]?.textContent;
          nodes.json.checked = true;
          await send("Tell me in JSON");
          out.json = nodes.log.children[3].textContent;
          nodes.model.value = "nope:latest";
          await send("x");
          out.error = nodes.log.children[5].textContent; out.errorClass = nodes.log.children[5].className;
          console.log(JSON.stringify(out));
        })().catch(e => { console.error(e); process.exit(1); });
        """;

    [SkippableFact]
    public async Task ThePageScriptChatsWithTheRealServer()
    {
        using var result = await RunInNodeAsync(Driver);
        var r = result.RootElement;
        Assert.Equal(["stories:260k"], r.GetProperty("models").EnumerateArray().Select(m => m.GetString()));
        Assert.Equal("msg assistant", r.GetProperty("answerClass").GetString());
        Assert.StartsWith(", there was a little girl named Lily", r.GetProperty("answer").GetString(), StringComparison.Ordinal);
        Assert.Contains("model=stories:260k", r.GetProperty("route").GetString(), StringComparison.Ordinal);
        Assert.StartsWith("{", r.GetProperty("json").GetString(), StringComparison.Ordinal);
        Assert.Equal("msg error", r.GetProperty("errorClass").GetString());
        Assert.StartsWith("404: ", r.GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    // A request that gets no answer (here the server cannot be reached) must not leave its question in the history:
    // the next request carried two user turns in a row.
    private const string UnansweredDriver = StandIn + """
        const realFetch = fetch, bodies = [];
        let down = true;
        global.fetch = (url, init) => {
          if (url === "/v1/chat/completions") {
            bodies.push(JSON.parse(init.body));
            if (down) { down = false; return Promise.reject(new TypeError("network down")); }
          }
          return realFetch(base + url, init);
        };
        require("vm").runInThisContext(require("fs").readFileSync(script, "utf8") + "\n;globalThis.send = send;");
        (async () => {
          nodes.model.value = "stories:260k";
          await send("Once upon a time");
          const out = { error: nodes.log.children[1].textContent };
          await send("There was a cat");
          out.second = bodies[1].messages.map(m => m.role + ": " + m.content);
          out.answer = nodes.log.children[3].textContent;
          console.log(JSON.stringify(out));
        })().catch(e => { console.error(e); process.exit(1); });
        """;

    [SkippableFact]
    public async Task AQuestionWithoutAnAnswerLeavesTheHistory()
    {
        using var result = await RunInNodeAsync(UnansweredDriver);
        var r = result.RootElement;
        Assert.Contains("network down", r.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal(["user: There was a cat"], r.GetProperty("second").EnumerateArray().Select(m => m.GetString()));
        Assert.NotEqual("", r.GetProperty("answer").GetString());
    }

    // Starts a server, saves the chat.js it serves and the driver, runs the driver in Node and parses what it prints.
    private static async Task<System.Text.Json.JsonDocument> RunInNodeAsync(string driverSource)
    {
        var node = FindNode();
        Skip.If(node is null, "Node.js is not installed: the chat page's script can only be run where it is");
        await using var s = await TestServer.StartAsync();
        var dir = Directory.CreateTempSubdirectory("hearth-webchat-");
        try
        {
            var script = Path.Combine(dir.FullName, "chat.js");
            await File.WriteAllTextAsync(script, await s.Http.GetStringAsync("/chat.js"));
            var driver = Path.Combine(dir.FullName, "driver.js");
            await File.WriteAllTextAsync(driver, driverSource);
            var run = new ProcessStartInfo(node!, [driver, s.Url.ToString().TrimEnd('/'), script]) { RedirectStandardOutput = true, RedirectStandardError = true };
            using var process = Process.Start(run)!;
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
            Assert.True(process.ExitCode == 0, await error);
            return System.Text.Json.JsonDocument.Parse(await output);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private static string? FindNode() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator)
            .SelectMany(d => new[] { Path.Combine(d, "node"), Path.Combine(d, "node.exe") })
            .FirstOrDefault(File.Exists);
}
