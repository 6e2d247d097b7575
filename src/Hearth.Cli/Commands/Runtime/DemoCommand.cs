using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Hearth.Cli.Commands.Doctor;
using Hearth.Configuration;
using Hearth.Privacy;
using Hearth.Runtime;
using Hearth.Store;
using Microsoft.Extensions.AI;
using Spectre.Console;

namespace Hearth.Cli.Commands.Runtime;

/// <summary>
/// <c>hearth demo</c>: the whole path on a fresh machine with no network — store the bundled stories260K model, route
/// a prompt, stream a story from the embedded engine, then show the route, tokens/s, the egress report and the audit
/// verification. <c>--offline</c> runs it in a fresh network namespace.
/// </summary>
internal static class DemoCommand
{
    public const string ModelName = "stories:260k";
    public const string DefaultPrompt = "Tell me a bedtime story about a little dragon who was afraid of the dark";

    public static Command Create(CliContext context)
    {
        var model = new Option<FileInfo?>("--model") { Description = "GGUF file to use (default: samples/models/stories260K.gguf)" };
        var prompt = new Option<string>("--prompt") { Description = "What to ask", DefaultValueFactory = _ => DefaultPrompt };
        var maxTokens = new Option<int>("--max-tokens", "-n") { Description = "Tokens to generate", DefaultValueFactory = _ => 120 };
        var offline = new Option<bool>("--offline") { Description = "Run the demo inside a new network namespace with no network (Linux unshare)" };
        var command = new Command("demo", "Show Hearth end to end, offline: store a bundled model, route a prompt, stream a story, prove no data left the machine")
        {
            model, prompt, maxTokens, offline,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            if (parse.GetValue(offline))
                return await RunIsolatedAsync(context, parse, cancellationToken);
            return await RunAsync(context, parse.GetValue(model), parse.GetValue(prompt)!, parse.GetValue(maxTokens), cancellationToken);
        });
        return command;
    }

    private static async Task<int> RunIsolatedAsync(CliContext context, ParseResult parse, CancellationToken cancellationToken)
    {
        if (!OperatingSystem.IsLinux() || DoctorCommand.FindOnPath("unshare") is not { } unshare)
            throw new CliException("--offline needs Linux and the 'unshare' program (util-linux) to create a network namespace", 3);
        List<string> args = ["demo", "--prompt", parse.GetValue<string>("--prompt")!, "-n", parse.GetValue<int>("--max-tokens").ToString(CultureInfo.InvariantCulture)];
        if (parse.GetValue<FileInfo?>("--model") is { } m)
            args.AddRange(["--model", m.FullName]);
        var start = DoctorCommand.IsolatedStart(unshare, context, args);
        using var process = Process.Start(start) ?? throw new CliException("could not start " + unshare);
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        var error = (await stderr).Trim();
        if (process.ExitCode != 0 && error.Contains("unshare", StringComparison.Ordinal))
            throw new CliException($"could not create a network namespace: {error}", 3);
        context.Console.MarkupLine("[bold]network:[/] this demo ran in a new network namespace (no interfaces up: nothing could leave the machine)");
        context.Raw.Write(await stdout);
        if (error.Length > 0)
            context.Error.WriteLine(error);
        return process.ExitCode;
    }

    private static async Task<int> RunAsync(CliContext context, FileInfo? modelFile, string prompt, int maxTokens, CancellationToken cancellationToken)
    {
        var console = context.Console;
        var file = modelFile?.FullName ?? FindSample()
            ?? throw new CliException("samples/models/stories260K.gguf was not found next to hearth or above the current directory; pass --model FILE.gguf");
        if (!File.Exists(file))
            throw new CliException($"model file not found: {file}");

        var loaded = CliConfig.Load(context, null);
        // The demo's own routing: a storytelling domain served by the bundled model, plus the configured domains.
        var domains = new Dictionary<string, DomainOptions>(loaded.Domains, StringComparer.Ordinal)
        {
            ["stories"] = new DomainOptions
            {
                Name = "stories", Description = "bedtime stories and children's tales", Model = ModelName,
                Examples = ["tell me a bedtime story", "a story about a little dragon", "once upon a time there was a princess", "write a fairy tale for my daughter", "a children's story about friendship"],
            },
        };
        var config = loaded with { Domains = domains, Models = loaded.Models with { Default = ModelName } };

        // 1. Store.
        var store = ModelStore.Open(config);
        var sw = Stopwatch.StartNew();
        if (!store.TryResolve(ModelName, out _))
        {
            using var audit = config.Healthcare.AuditTrail == AuditTrailMode.Disabled ? null : AuditLog.Open(config.AuditDirectory);
            await new ModelPuller(store, config, context.EnvironmentVariables, audit).PullAsync(file, new PullOptions { Name = ModelName }, cancellationToken);
            console.MarkupLine($"[bold]1. store[/]   imported {Markup.Escape(Path.GetFileName(file))} as [green]{ModelName}[/] into {Markup.Escape(store.Root)} ({sw.ElapsedMilliseconds} ms, verified sha256)");
        }
        else
        {
            console.MarkupLine($"[bold]1. store[/]   [green]{ModelName}[/] is already in {Markup.Escape(store.Root)}");
        }

        using var runtime = HearthRuntime.Create(config);

        // 2. Route.
        var decision = runtime.Router.Route(prompt);
        console.MarkupLine($"[bold]2. route[/]   \"{Markup.Escape(prompt)}\" → domain [green]{Markup.Escape(decision.Domain)}[/], model {Markup.Escape(decision.Model ?? ModelName)} via {Markup.Escape(decision.Provider)} (confidence {decision.Confidence.ToString("0.00", CultureInfo.InvariantCulture)})");

        // 3. Generate, streaming, through the whole pipeline (policy → router → audit → embedded engine).
        console.MarkupLine("[bold]3. story[/]   (embedded engine, in-process)");
        var started = Stopwatch.StartNew();
        TimeSpan? firstToken = null;
        long outputTokens = 0;
        await foreach (var update in runtime.ChatClient.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, prompt)], new ChatOptions { MaxOutputTokens = maxTokens, Temperature = 0.7f, Seed = 7 }, cancellationToken))
        {
            if (update.Text.Length > 0)
            {
                firstToken ??= started.Elapsed;
                context.Raw.Write(update.Text);
            }

            foreach (var c in update.Contents)
            {
                if (c is UsageContent u)
                    outputTokens = u.Details.OutputTokenCount ?? 0;
            }
        }

        context.Raw.WriteLine();
        context.Raw.Flush();
        var seconds = started.Elapsed.TotalSeconds;

        // 4. Report.
        console.MarkupLine("[bold]4. report[/]");
        console.WriteLine(decision.Explain().TrimEnd());
        console.MarkupLine(string.Create(CultureInfo.InvariantCulture, $"speed: {outputTokens} tokens in {seconds:0.00} s = [green]{outputTokens / Math.Max(seconds, 1e-9):0.0} tokens/s[/] (first token after {(firstToken ?? started.Elapsed).TotalMilliseconds:0} ms)"));
        var (allowed, refused) = runtime.EgressCounts;
        console.MarkupLine($"egress: [green]{allowed} external connections[/] made, {refused} refused; allowed endpoints: {Markup.Escape(string.Join(", ", config.EgressAllowList.Select(u => u.GetLeftPart(UriPartial.Authority))))}");
        runtime.Dispose();
        if (config.Healthcare.AuditTrail == AuditTrailMode.Disabled)
        {
            console.MarkupLine("audit: [yellow]disabled[/] by configuration (healthcare.audit_trail)");
            return 0;
        }

        var verify = AuditLog.Verify(config.AuditDirectory);
        if (!verify.IsValid)
            throw new CliException($"audit verify failed: {verify.Problem?.ToString() ?? "torn tail"}");
        console.MarkupLine($"audit: [green]verify passed[/] — {verify.EntriesVerified} entries, hash chain intact ({Markup.Escape(config.AuditDirectory)})");
        return 0;
    }

    /// <summary>samples/models/stories260K.gguf above the current directory or next to the executable.</summary>
    internal static string? FindSample()
    {
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "samples", "models", "stories260K.gguf");
                if (File.Exists(candidate))
                    return candidate;
            }
        }

        return null;
    }
}
