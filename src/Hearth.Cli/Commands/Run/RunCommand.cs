using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Serialization;
using Hearth.Engine.Generation;
using Hearth.Engine.Sampling;
using Microsoft.Extensions.AI;

namespace Hearth.Cli.Commands.Run;

/// <summary>
/// <c>hearth run --model FILE|NAME [--raw] [--max-tokens N] [--temperature T] [--top-k K] [--top-p P] [--seed S] [--threads N] [--json] PROMPT</c>:
/// streams a completion from the embedded engine.
/// </summary>
internal static class RunCommand
{
    public static Command Create(CliContext context)
    {
        var model = new Option<string>("--model", "-m") { Description = "GGUF model file, or a model in the store (name[:tag])", Required = true };
        var raw = new Option<bool>("--raw") { Description = "Plain completion: no chat template" };
        var maxTokens = new Option<int>("--max-tokens", "-n") { Description = "Most tokens to generate", DefaultValueFactory = _ => 256 };
        var temperature = new Option<float>("--temperature") { Description = "Sampling temperature; 0 = greedy", DefaultValueFactory = _ => 0.8f };
        var topK = new Option<int>("--top-k") { Description = "Keep the K most likely tokens (0 = off)", DefaultValueFactory = _ => 40 };
        var topP = new Option<float>("--top-p") { Description = "Nucleus sampling mass (1 = off)", DefaultValueFactory = _ => 0.95f };
        var seed = new Option<ulong?>("--seed") { Description = "Random seed for reproducible sampling" };
        var threads = new Option<int>("--threads", "-t") { Description = "Threads (0 = physical cores)", DefaultValueFactory = _ => 0 };
        var json = new Option<bool>("--json") { Description = "Print one JSON object: token ids, text, timings" };
        var prompt = new Argument<string>("PROMPT") { Description = "The prompt" };
        maxTokens.Validators.Add(r => { if (r.GetValueOrDefault<int>() < 0) r.AddError("--max-tokens must be 0 or more"); });
        temperature.Validators.Add(r => { if (r.GetValueOrDefault<float>() < 0) r.AddError("--temperature must be 0 or more"); });
        topP.Validators.Add(r => { if (r.GetValueOrDefault<float>() is <= 0 or > 1) r.AddError("--top-p must be in (0, 1]"); });
        threads.Validators.Add(r => { if (r.GetValueOrDefault<int>() < 0) r.AddError("--threads must be 0 or more"); });

        var command = new Command("run", "Generate text with a local model, in-process (pure C#, no network)")
        {
            model, raw, maxTokens, temperature, topK, topP, seed, threads, json, prompt,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var file = new FileInfo(await ModelResolver.ResolveAsync(context, parse.GetValue(model)!, cancellationToken));
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
    }

    private static double Rate(int tokens, TimeSpan time) => time.TotalSeconds > 0 ? Math.Round(tokens / time.TotalSeconds, 2) : 0;
}

/// <summary>JSON shape of <c>hearth run --json</c>.</summary>
internal sealed record RunReport(string Model, int[] PromptTokens, int[] Tokens, string Text, string StopReason, RunTimings Timings);

/// <summary>Timings of a run.</summary>
internal sealed record RunTimings(double PromptMs, double GenerationMs, double PromptTokensPerSecond, double GenerationTokensPerSecond);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[JsonSerializable(typeof(RunReport))]
internal sealed partial class RunJsonContext : JsonSerializerContext;
