using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Hearth.Configuration;
using Hearth.Privacy;
using Hearth.Runtime;
using Hearth.Server;
using Spectre.Console;

namespace Hearth.Cli.Commands.Runtime;

/// <summary><c>hearth serve</c>: the OpenAI- and Ollama-compatible server on 127.0.0.1 (see <see cref="HearthServer"/>).</summary>
internal static class ServeCommand
{
    public const int DefaultPort = 11435;

    public static Command Create(CliContext context)
    {
        var config = CliConfig.CreateOption();
        var host = new Option<string>("--host") { Description = "Address to bind; a non-loopback address needs --api-key-env", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port", "-p") { Description = "Port (0 = any free port)", DefaultValueFactory = _ => DefaultPort };
        var keyEnv = new Option<string?>("--api-key-env") { Description = "Environment variable holding the API key clients must send (Bearer or x-api-key); comma-separated keys allowed" };
        var allowedHosts = new Option<string[]>("--allowed-host") { Description = "Extra Host header value to accept (DNS-rebinding defence allows only loopback names by default)", AllowMultipleArgumentsPerToken = true };
        var cors = new Option<string[]>("--cors-origin") { Description = "Origin allowed by CORS (off unless given)", AllowMultipleArgumentsPerToken = true };
        var parallel = new Option<int>("--parallel") { Description = "Generations running at once", DefaultValueFactory = _ => 1 };
        var queue = new Option<int>("--queue") { Description = "Requests that may wait for a slot; more get 429", DefaultValueFactory = _ => 16 };
        var maxBody = new Option<long>("--max-body") { Description = "Largest request body in bytes", DefaultValueFactory = _ => 4L << 20 };
        var maxTokens = new Option<int>("--max-tokens") { Description = "Most tokens one request may generate", DefaultValueFactory = _ => 4096 };
        var noStore = new Option<bool>("--no-store-changes") { Description = "Disable /api/pull and /api/delete" };
        var noWeb = new Option<bool>("--no-web-chat") { Description = "Do not serve the local chat page at /chat (API only)" };
        var threads = new Option<int>("--threads", "-t") { Description = "Engine threads per generation (0 = physical cores)" };
        var command = new Command("serve", "Serve local models over the OpenAI and Ollama HTTP APIs on 127.0.0.1, with routing, privacy policy and audit")
        {
            config, host, port, keyEnv, allowedHosts, cors, parallel, queue, maxBody, maxTokens, noStore, noWeb, threads,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var cfg = CliConfig.Load(context, parse.GetValue(config));
            string[] keys = [];
            if (parse.GetValue(keyEnv) is { } variable)
            {
                var value = context.EnvironmentVariables[variable] as string;
                if (string.IsNullOrWhiteSpace(value))
                    throw new CliException($"--api-key-env {variable}: the variable is not set or empty");
                keys = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            }

            var options = new HearthServerOptions
            {
                Host = parse.GetValue(host)!, Port = parse.GetValue(port), ApiKeys = keys,
                AllowedHosts = parse.GetValue(allowedHosts) ?? [], CorsOrigins = parse.GetValue(cors) ?? [],
                ParallelSlots = parse.GetValue(parallel), QueueLength = parse.GetValue(queue),
                MaxRequestBodyBytes = parse.GetValue(maxBody), MaxTokens = parse.GetValue(maxTokens),
                AllowStoreChanges = !parse.GetValue(noStore), WebChat = !parse.GetValue(noWeb),
            };
            using var runtime = HearthRuntime.Create(cfg, new HearthRuntimeOptions { Threads = parse.GetValue(threads) });
            HearthServer server;
            try
            {
                server = await HearthServer.StartAsync(runtime, options, cancellationToken);
            }
            catch (Exception ex) when (ex is InvalidOperationException or ArgumentException or IOException)
            {
                throw new CliException(ex.Message);
            }

            await using (server)
            {
                context.Console.MarkupLine($"[green]Hearth is serving[/] on [bold]{Markup.Escape(server.Address.ToString())}[/]  (OpenAI: /v1, Ollama: /api, health: /health, metrics: /metrics{(options.WebChat ? ", chat page: /chat" : "")})");
                context.Console.MarkupLine($"auth: {(keys.Length > 0 ? "API key required" : "none (loopback only)")}; slots: {options.ParallelSlots}, queue: {options.QueueLength}; store changes: {(options.AllowStoreChanges ? "allowed" : "disabled")}. Ctrl+C stops.");
                try
                {
                    await Task.Delay(Timeout.Infinite, cancellationToken);
                }
                catch (OperationCanceledException)
                {
                }
            }

            return 0;
        });
        return command;
    }
}

/// <summary><c>hearth ps</c>: models loaded by a running <c>hearth serve</c> (its <c>/api/ps</c>).</summary>
internal static class PsCommand
{
    public static Command Create(CliContext context)
    {
        var url = new Option<string>("--url") { Description = "The local server", DefaultValueFactory = _ => $"http://127.0.0.1:{ServeCommand.DefaultPort}" };
        var json = new Option<bool>("--json") { Description = "Print the server's JSON" };
        var command = new Command("ps", "List the models a running 'hearth serve' has loaded: memory, requests in flight, when each unloads") { url, json };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var text = parse.GetValue(url)!;
            if (!Uri.TryCreate(text, UriKind.Absolute, out var server) || server.Scheme is not ("http" or "https"))
                throw new CliException($"--url {text}: expected an http URL such as http://127.0.0.1:{ServeCommand.DefaultPort}");
            if (!EndpointRules.IsLoopbackHost(server.Host))
                throw new CliException($"--url {server}: hearth ps talks to a local server only (loopback address)");
            using var http = HearthHttp.CreateClient(new EgressGuard([server]), TimeSpan.FromSeconds(10));
            string body;
            try
            {
                body = await http.GetStringAsync(new Uri(server, "/api/ps"), cancellationToken);
            }
            catch (HttpRequestException ex)
            {
                throw new CliException($"no Hearth server answers at {server} ({ex.Message}); start one with: hearth serve");
            }

            if (parse.GetValue(json))
            {
                context.Raw.WriteLine(body);
                return 0;
            }

            var models = JsonNode.Parse(body)?["models"]?.AsArray() ?? [];
            if (models.Count == 0)
            {
                context.Console.WriteLine("no models loaded");
                return 0;
            }

            var table = new Table().AddColumns("NAME", "SIZE", "IN FLIGHT", "UNTIL");
            foreach (var m in models)
            {
                var expires = (string?)m!["expires_at"];
                var until = expires is null || DateTimeOffset.Parse(expires, CultureInfo.InvariantCulture) == DateTimeOffset.MaxValue ? "forever / busy" : DateTimeOffset.Parse(expires, CultureInfo.InvariantCulture).ToLocalTime().ToString("HH:mm:ss", CultureInfo.InvariantCulture);
                table.AddRow(Markup.Escape((string?)m["name"] ?? "?"), ModelHost.Format((long?)m["size"] ?? 0), ((int?)m["in_flight"] ?? 0).ToString(CultureInfo.InvariantCulture), until);
            }

            context.Console.Write(table);
            return 0;
        });
        return command;
    }
}
