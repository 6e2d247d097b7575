using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;
using Hearth.Engine.Generation;
using Hearth.Engine.Sampling;
using Hearth.Privacy;
using Hearth.Routing;
using Hearth.Runtime;
using Microsoft.Extensions.AI;
using Spectre.Console;

namespace Hearth.Cli.Commands.Run;

/// <summary>
/// <c>hearth run [--model FILE|NAME] [--domain NAME] [--raw] [--max-tokens N] [--temperature T] [--top-k K] [--top-p P] [--seed S] [--threads N] [--json] PROMPT</c>:
/// streams a completion. A GGUF file runs straight on the embedded engine (<c>--json</c> then has the token ids); a store
/// name, <c>--domain</c>, or neither goes through the runtime (privacy policy, router, audit, the domain's adapter).
/// </summary>
internal static class RunCommand
{
    public static Command Create(CliContext context)
    {
        var config = CliConfig.CreateOption();
        var model = new Option<string?>("--model", "-m") { Description = "GGUF model file (runs directly on the engine), or a model in the store (name[:tag], through the runtime)" };
        var domain = new Option<string?>("--domain", "-d") { Description = "Answer as this configured domain (its model, policy and adapter), through the runtime; without --model or --domain the router picks" };
        var raw = new Option<bool>("--raw") { Description = "Plain completion: no chat template" };
        var maxTokens = new Option<int>("--max-tokens", "-n") { Description = "Most tokens to generate", DefaultValueFactory = _ => 256 };
        var temperature = new Option<float>("--temperature") { Description = "Sampling temperature; 0 = greedy", DefaultValueFactory = _ => 0.8f };
        var topK = new Option<int>("--top-k") { Description = "Keep the K most likely tokens (0 = off)", DefaultValueFactory = _ => 40 };
        var topP = new Option<float>("--top-p") { Description = "Nucleus sampling mass (1 = off)", DefaultValueFactory = _ => 0.95f };
        var seed = new Option<ulong?>("--seed") { Description = "Random seed for reproducible sampling" };
        var threads = new Option<int>("--threads", "-t") { Description = "Threads (0 = physical cores)", DefaultValueFactory = _ => 0 };
        var json = new Option<bool>("--json") { Description = "Print one JSON object: token ids, text, timings" };
        var format = new Option<string?>("--format") { Description = "json: JSON mode, the answer is one JSON object (every token checked as it is sampled)" };
        format.AcceptOnlyFromAmong("json");
        var schemaFile = new Option<FileInfo?>("--schema") { Description = "A JSON schema file the answer must match (JSON mode with a schema; the README lists the keywords enforced)" };
        var prompt = new Argument<string>("PROMPT") { Description = "The prompt" };
        maxTokens.Validators.Add(r => { if (r.GetValueOrDefault<int>() < 0) r.AddError("--max-tokens must be 0 or more"); });
        temperature.Validators.Add(r => { if (r.GetValueOrDefault<float>() < 0) r.AddError("--temperature must be 0 or more"); });
        topP.Validators.Add(r => { if (r.GetValueOrDefault<float>() is <= 0 or > 1) r.AddError("--top-p must be in (0, 1]"); });
        threads.Validators.Add(r => { if (r.GetValueOrDefault<int>() < 0) r.AddError("--threads must be 0 or more"); });

        var command = new Command("run", "Generate text with a local model, in-process (pure C#, no network)")
        {
            config, model, domain, raw, maxTokens, temperature, topK, topP, seed, threads, json, format, schemaFile, prompt,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var name = parse.GetValue(model);
            if (name is null || parse.GetValue(domain) is not null || !IsFile(name))
                return await RunThroughRuntimeAsync(context, parse, name, cancellationToken);
            var file = new FileInfo(await ModelResolver.ResolveAsync(context, name, cancellationToken));
            using var client = EngineChatClient.Open(file.FullName, new EngineOptions { Threads = parse.GetValue(threads) });
            var generator = client.Generator;
            var text = parse.GetValue(prompt)!;
            var promptTokens = parse.GetValue(raw)
                ? generator.Tokenizer.Encode(text, addSpecial: true, parseSpecial: false)
                : client.BuildPrompt([new ChatMessage(ChatRole.User, text)]);
            var t = parse.GetValue(temperature);
            var options = new GenerationOptions
            {
                MaxTokens = parse.GetValue(maxTokens),
                Sampling = t == 0
                    ? SamplingOptions.Greedy
                    : new SamplingOptions { Temperature = t, TopK = parse.GetValue(topK), TopP = parse.GetValue(topP), Seed = parse.GetValue(seed) },
                Json = parse.GetValue(format) == "json",
                JsonSchema = ReadSchema(parse.GetValue(schemaFile)) is { } schema ? Compile(schema, parse.GetValue(schemaFile)!) : null,
            };
            var asJson = parse.GetValue(json);
            var result = await Task.Run(() => generator.Generate(promptTokens, options, asJson ? null : u =>
            {
                context.Raw.Write(u.Text);
                context.Raw.Flush();
            }, cancellationToken), cancellationToken);
            if (asJson)
            {
                var report = new RunReport(file.FullName, [.. result.PromptTokens], [.. result.Tokens], result.Text,
                    result.StopReason.ToString().ToLowerInvariant(),
                    new RunTimings(result.PromptTime.TotalMilliseconds, result.GenerationTime.TotalMilliseconds,
                        Rate(result.PromptTokens.Count, result.PromptTime), Rate(result.Tokens.Count, result.GenerationTime)));
                context.Raw.WriteLine(JsonSerializer.Serialize(report, RunJsonContext.Default.RunReport));
            }
            else
            {
                context.Raw.WriteLine();
            }
            return 0;
        });
        return command;

        static JsonElement? ReadSchema(FileInfo? file)
        {
            if (file is null)
                return null;
            try
            {
                using var doc = JsonDocument.Parse(File.ReadAllBytes(file.FullName));
                return doc.RootElement.Clone();
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or JsonException)
            {
                throw new CliException($"--schema {file.FullName}: {ex.Message}");
            }
        }

        static JsonSchemaPlan Compile(JsonElement schema, FileInfo file)
        {
            try
            {
                return JsonSchemaPlan.Compile(schema);
            }
            catch (ArgumentException ex)
            {
                throw new CliException($"--schema {file.FullName}: {ex.Message}");
            }
        }

        async Task<int> RunThroughRuntimeAsync(CliContext context, ParseResult parse, string? name, CancellationToken cancellationToken)
        {
            var cfg = CliConfig.Load(context, parse.GetValue(config));
            var wanted = parse.GetValue(domain);
            if (wanted is not null && !cfg.Domains.ContainsKey(wanted))
                throw new CliException($"unknown domain '{wanted}'; configured: {string.Join(", ", cfg.Domains.Keys)}");
            if (name is not null && !IsFile(name))
                await ModelResolver.ResolveAsync(context, name, cancellationToken); // pulls when models.auto_download allows, else names the pull command
            using var runtime = HearthRuntime.Create(cfg, new HearthRuntimeOptions { Threads = parse.GetValue(threads) });
            var t = parse.GetValue(temperature);
            var options = new ChatOptions
            {
                ModelId = name,
                MaxOutputTokens = parse.GetValue(maxTokens),
                Temperature = t,
                TopK = t == 0 ? null : parse.GetValue(topK),
                TopP = t == 0 ? null : parse.GetValue(topP),
                Seed = parse.GetValue(seed) is { } sd ? unchecked((long)sd) : null,
                ResponseFormat = ReadSchema(parse.GetValue(schemaFile)) is { } schema ? ChatResponseFormat.ForJsonSchema(schema, parse.GetValue(schemaFile)!.Name)
                    : parse.GetValue(format) == "json" ? ChatResponseFormat.Json : null,
                AdditionalProperties = [],
            };
            if (name is not null)
                options.AdditionalProperties[HearthChatOptionKeys.Provider] = "embedded";
            if (wanted is not null)
                options.AdditionalProperties[HearthChatOptionKeys.Domain] = wanted;
            if (parse.GetValue(raw))
                options.AdditionalProperties[EngineChatOptionKeys.RawPrompt] = true;

            var asJson = parse.GetValue(json);
            var started = Stopwatch.GetTimestamp();
            var updates = new List<ChatResponseUpdate>();
            RouteDecision? route = null;
            try
            {
                await foreach (var u in runtime.ChatClient.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, parse.GetValue(prompt)!)], options, cancellationToken))
                {
                    updates.Add(u);
                    if (u.AdditionalProperties?.TryGetValue(RoutingChatOptionKeys.Decision, out var d) == true && d is RouteDecision rd)
                        route = rd;
                    if (!asJson)
                    {
                        context.Raw.Write(u.Text);
                        context.Raw.Flush();
                    }
                }
            }
            catch (Exception ex) when (ex is PolicyRefusedException or ModelUnavailableException)
            {
                throw new CliException(ex.Message);
            }
            var elapsed = Stopwatch.GetElapsedTime(started);
            var response = updates.ToChatResponse();
            var usage = response.Usage;
            var servedBy = response.ModelId ?? name ?? "?";
            var servedDomain = route?.Domain ?? wanted;
            if (asJson)
            {
                var report = new RuntimeRunReport(servedBy, servedDomain, route?.Explain().TrimEnd(), response.Text,
                    response.FinishReason?.Value, (int)(usage?.InputTokenCount ?? 0), (int)(usage?.OutputTokenCount ?? 0),
                    Math.Round(elapsed.TotalMilliseconds, 1));
                context.Raw.WriteLine(JsonSerializer.Serialize(report, RunJsonContext.Default.RuntimeRunReport));
            }
            else
            {
                context.Raw.WriteLine();
                context.Error.MarkupLineInterpolated($"[grey]{servedDomain ?? "(no domain)"} → {servedBy}: {usage?.OutputTokenCount ?? 0} tokens in {elapsed.TotalSeconds:0.00} s[/]");
            }
            return 0;
        }
    }

    private static bool IsFile(string model) => File.Exists(model) || model.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase);

    private static double Rate(int tokens, TimeSpan time) => time.TotalSeconds > 0 ? Math.Round(tokens / time.TotalSeconds, 2) : 0;
}

/// <summary>JSON shape of <c>hearth run --json</c>.</summary>
internal sealed record RunReport(string Model, int[] PromptTokens, int[] Tokens, string Text, string StopReason, RunTimings Timings);

/// <summary>Timings of a run.</summary>
internal sealed record RunTimings(double PromptMs, double GenerationMs, double PromptTokensPerSecond, double GenerationTokensPerSecond);

/// <summary>JSON shape of <c>hearth run --json</c> through the runtime (a store name, <c>--domain</c> or routing).</summary>
internal sealed record RuntimeRunReport(string Model, string? Domain, string? Route, string Text, string? FinishReason, int InputTokens, int OutputTokens, double TotalMs);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[JsonSerializable(typeof(RunReport))]
[JsonSerializable(typeof(RuntimeRunReport))]
internal sealed partial class RunJsonContext : JsonSerializerContext;
