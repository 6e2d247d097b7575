using System.Collections;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Hearth.Configuration;
using Hearth.Runtime;
using Hearth.Server;
using Hearth.Store;
using Hearth.Tests.Shared;
using Microsoft.Extensions.AI;

/// <summary>
/// Added latency of <c>hearth serve</c> over calling the runtime's <see cref="IChatClient"/> directly (p50/p99 of a
/// short greedy completion with stories260K), and aggregate generated tokens/s with 1, 4 and 8 concurrent streams:
/// <c>dotnet run -c Release --project bench/Hearth.Bench -- server [requests] [tokens]</c>. Loopback only.
/// </summary>
internal static class ServerBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        var requests = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 200;
        var tokens = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 16;
        var home = Path.Combine(Path.GetTempPath(), "hearth-serverbench-" + Environment.ProcessId);
        Directory.CreateDirectory(home);
        try
        {
            var (config, errors) = HearthConfigLoader.CheckText("models: { default: stories:260k }\nhealthcare: { audit_trail: local_filesystem }\n", environment: new Hashtable { ["HEARTH_HOME"] = home });
            if (errors.Count > 0)
                throw new InvalidOperationException(string.Join("; ", errors));
            await new ModelPuller(ModelStore.Open(config), config, new Hashtable()).PullAsync(Fixtures.Stories260K, new PullOptions { Name = "stories:260k" });
            using var runtime = HearthRuntime.Create(config, new HearthRuntimeOptions { Threads = 1 });
            await using var server = await HearthServer.StartAsync(runtime, new HearthServerOptions { Port = 0, ParallelSlots = 8, QueueLength = 64 });
            using var http = new HttpClient { BaseAddress = server.Address };
            var messages = new[] { new ChatMessage(ChatRole.User, "Once upon a time") };
            var options = new ChatOptions
            {
                ModelId = "stories:260k", MaxOutputTokens = tokens, Temperature = 0,
                AdditionalProperties = new() { [Hearth.Privacy.HearthChatOptionKeys.Provider] = "embedded" },
            };
            var body = new JsonObject
            {
                ["model"] = "stories:260k", ["max_tokens"] = tokens, ["temperature"] = 0,
                ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "Once upon a time" }),
            }.ToJsonString();

            async Task Direct() => await runtime.ChatClient.GetResponseAsync(messages, options);
            async Task OverHttp()
            {
                using var r = await http.PostAsync("/v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json"));
                r.EnsureSuccessStatusCode();
                await r.Content.ReadAsStringAsync();
            }

            for (var i = 0; i < 20; i++)
            {
                await Direct();
                await OverHttp();
            }

            // Interleaved, so drift on a shared machine hits both equally.
            var direct = new List<double>();
            var served = new List<double>();
            for (var i = 0; i < requests; i++)
            {
                var sw = Stopwatch.StartNew();
                await Direct();
                direct.Add(sw.Elapsed.TotalMilliseconds);
                sw.Restart();
                await OverHttp();
                served.Add(sw.Elapsed.TotalMilliseconds);
            }

            direct.Sort();
            served.Sort();
            double P(List<double> s, double q) => s[Math.Min(s.Count - 1, (int)(q * s.Count))];
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"short completion ({tokens} tokens, stories260K, {requests} requests): direct p50 {P(direct, 0.5):0.00} ms p99 {P(direct, 0.99):0.00} ms; " +
                $"server p50 {P(served, 0.5):0.00} ms p99 {P(served, 0.99):0.00} ms; added p50 {P(served, 0.5) - P(direct, 0.5):0.00} ms, p99 {P(served, 0.99) - P(direct, 0.99):0.00} ms"));

            foreach (var streams in new[] { 1, 4, 8 })
            {
                var perStream = Math.Max(4, requests / 4 / streams);
                long generated = 0;
                var sw = Stopwatch.StartNew();
                await Task.WhenAll(Enumerable.Range(0, streams).Select(async _ =>
                {
                    for (var i = 0; i < perStream; i++)
                    {
                        using var r = await http.PostAsync("/v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json"));
                        var doc = JsonNode.Parse(await r.Content.ReadAsStringAsync())!;
                        Interlocked.Add(ref generated, (long)doc["usage"]!["completion_tokens"]!);
                    }
                }));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{streams} concurrent streams: {generated / sw.Elapsed.TotalSeconds:0} tokens/s aggregate ({generated} tokens in {sw.Elapsed.TotalSeconds:0.00} s)"));
            }

            return 0;
        }
        finally
        {
            try
            {
                Directory.Delete(home, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
