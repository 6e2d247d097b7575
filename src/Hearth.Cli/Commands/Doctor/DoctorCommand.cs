using System.CommandLine;
using System.Diagnostics;
using System.Net.NetworkInformation;
using System.Text.Json;
using System.Text.Json.Nodes;
using Hearth.Configuration;
using Hearth.Engine.Generation;
using Hearth.Engine.Sampling;
using Hearth.Privacy;
using Hearth.Store;
using Spectre.Console;

namespace Hearth.Cli.Commands.Doctor;

/// <summary>
/// <c>hearth doctor [--config FILE] [--offline] [--json]</c>: checks the configuration, the Hearth home, the egress
/// policy, the audit trail and that every configured model loads and answers. With <c>--offline</c> the same checks
/// run in a child process inside a new, empty network namespace (Linux <c>unshare</c>): proof the setup works with no
/// network at all. Where the platform cannot isolate, it says so and exits 3.
/// </summary>
internal static class DoctorCommand
{
    /// <summary>Exit code when <c>--offline</c> was asked for but this platform cannot isolate the network.</summary>
    public const int CannotIsolateExitCode = 3;

    internal sealed record Check(string Name, string Status, string Detail);

    public static Command Create(CliContext context)
    {
        var config = CliConfig.CreateOption();
        var offline = new Option<bool>("--offline") { Description = "Run the checks in a child process with no network (new network namespace)" };
        var json = new Option<bool>("--json") { Description = "Print the checks as JSON" };
        var isolated = new Option<bool>("--isolated-child") { Description = "Internal: this process is the isolated child of --offline", Hidden = true };
        var command = new Command("doctor", "Check configuration, store, audit trail and models; --offline proves it all works disconnected")
        {
            config, offline, json, isolated,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var file = parse.GetValue(config);
            List<Check> checks;
            if (parse.GetValue(offline))
            {
                var (child, failure) = await RunIsolatedAsync(context, file, cancellationToken);
                if (child is null)
                {
                    HearthCli.WriteError(context, "cannot isolate the network on this platform: " + failure);
                    return CannotIsolateExitCode;
                }
                checks = child;
            }
            else
            {
                checks = RunChecks(context, file, parse.GetValue(isolated), cancellationToken);
            }

            var failed = checks.Count(c => c.Status == "fail");
            if (parse.GetValue(json))
            {
                var array = new JsonArray();
                foreach (var c in checks)
                    array.Add(new JsonObject { ["check"] = c.Name, ["status"] = c.Status, ["detail"] = c.Detail });
                context.Raw.WriteLine(new JsonObject { ["ok"] = failed == 0, ["offline"] = parse.GetValue(offline) || parse.GetValue(isolated), ["checks"] = array }
                    .ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            }
            else
            {
                var table = new Table().Border(TableBorder.Simple).AddColumn("check").AddColumn("status").AddColumn("detail");
                foreach (var c in checks)
                {
                    var colour = c.Status switch { "ok" => "green", "warn" => "yellow", _ => "red" };
                    table.AddRow(Markup.Escape(c.Name), $"[{colour}]{c.Status}[/]", Markup.Escape(c.Detail));
                }
                context.Console.Write(table);
                context.Console.MarkupLine(failed == 0
                    ? $"[green]all checks passed[/]{(parse.GetValue(offline) ? " with no network (isolated network namespace)" : "")}"
                    : $"[red]{failed} check{(failed == 1 ? "" : "s")} failed[/]");
            }
            return failed == 0 ? 0 : 1;
        });
        return command;
    }

    /// <summary>The checks themselves (also what the isolated child runs).</summary>
    internal static List<Check> RunChecks(CliContext context, FileInfo? file, bool isolated, CancellationToken cancellationToken)
    {
        var checks = new List<Check>();
        if (isolated)
            checks.Add(NetworkIsolation());

        var (config, errors) = HearthConfigLoader.Check(file?.FullName, context.EnvironmentVariables);
        checks.Add(errors.Count == 0
            ? new Check("configuration", "ok", config.SourcePath ?? "no hearth.yaml: local-first defaults")
            : new Check("configuration", "fail", string.Join("; ", errors)));

        checks.Add(Home(config.HearthHome));
        checks.Add(Egress(config));
        checks.Add(Audit(Path.Combine(config.HearthHome, "audit")));
        checks.Add(StoreIntegrity(config, cancellationToken));
        foreach (var (name, model) in ConfiguredModels(config))
            checks.Add(Model(name, model, config, cancellationToken));
        return checks;
    }

    private static Check NetworkIsolation()
    {
        var up = NetworkInterface.GetAllNetworkInterfaces()
            .Where(n => n.NetworkInterfaceType != NetworkInterfaceType.Loopback && n.OperationalStatus != OperationalStatus.Down)
            .Select(n => n.Name)
            .ToArray();
        return up.Length == 0
            ? new Check("network isolation", "ok", "no network interface but loopback: nothing can leave this process")
            : new Check("network isolation", "fail", "interfaces up: " + string.Join(", ", up));
    }

    private static Check Home(string home)
    {
        if (!Directory.Exists(home))
            return new Check("home", "warn", $"{home} does not exist yet (created on first pull or audit entry)");
        var probe = Path.Combine(home, $".doctor-{Environment.ProcessId}.tmp");
        try
        {
            File.WriteAllText(probe, "ok");
            File.Delete(probe);
            return new Check("home", "ok", home + " writable");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return new Check("home", "fail", $"{home} not writable: {ex.Message}");
        }
    }

    private static Check Egress(HearthConfig config)
    {
        var guard = HearthHttp.CreateGuard(config);
        var rules = guard.Rules.Count == 0 ? "none" : string.Join(", ", guard.Rules);
        try
        {
            // A name no configuration allows: the guard must refuse it before any lookup or socket.
            guard.Admit(new Uri("https://egress-probe.invalid/"), "doctor");
            return new Check("egress guard", "fail", "an endpoint outside the allow-list was admitted");
        }
        catch (EgressDeniedException)
        {
            return new Check("egress guard", "ok",
                $"mode {config.System.Mode}, external calls {config.Privacy.ExternalCalls}; allowed: {rules}; anything else refused");
        }
    }

    private static Check Audit(string directory)
    {
        if (!Directory.Exists(directory))
            return new Check("audit trail", "warn", $"no entries yet ({directory})");
        var result = AuditLog.Verify(directory);
        if (result.IsValid)
            return new Check("audit trail", "ok", $"{result.EntriesVerified} entries, hash chain verifies");
        return new Check("audit trail", "fail", result.Problem?.ToString() ?? result.TornTail?.ToString() ?? "invalid");
    }

    /// <summary>Re-hashes every model in the store; a missing or corrupted file fails the check, naming the model.</summary>
    private static Check StoreIntegrity(HearthConfig config, CancellationToken cancellationToken)
    {
        var store = ModelStore.Open(config);
        if (!Directory.Exists(store.Root))
            return new Check("store", "warn", $"no store yet ({store.Root})");
        try
        {
            var results = store.VerifyAsync(null, null, cancellationToken).GetAwaiter().GetResult();
            var bad = results.Where(r => r.Status != VerifyStatus.Ok).ToArray();
            if (bad.Length == 0)
                return new Check("store", "ok", $"{results.Select(r => r.Reference).Distinct(StringComparer.Ordinal).Count()} models, {results.Count} files re-hashed, all verify");
            return new Check("store", "fail", string.Join("; ", bad.Select(r => r.Status == VerifyStatus.Missing
                ? $"{r.Reference}: {r.Path} is missing"
                : $"{r.Reference}: {r.Path} is corrupted (sha256 {r.ActualHex}, expected {r.ExpectedHex})")));
        }
        catch (Exception ex) when (ex is ModelStoreException or IOException or UnauthorizedAccessException)
        {
            return new Check("store", "fail", ex.Message);
        }
    }

    internal static IEnumerable<(string Name, string Model)> ConfiguredModels(HearthConfig config)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        if (config.Models.Default is { } d && seen.Add(d))
            yield return ("models.default", d);
        foreach (var (name, domain) in config.Domains)
        {
            if (domain.Provider == "embedded" && domain.Model is { } m && seen.Add(m))
                yield return ($"domains.{name}", m);
        }
    }

    private static Check Model(string name, string model, HearthConfig config, CancellationToken cancellationToken)
    {
        var label = $"model {model} ({name})";
        string path;
        try
        {
            if (ResolveModelPath(model, config) is not { } resolved)
                return new Check(label, "fail", $"not found: not a file and not in the store at {ModelStore.Open(config).Root}; download it with: {ModelPuller.SuggestPullCommand(model)}");
            path = resolved;
        }
        catch (ModelStoreException ex)
        {
            // In the store but its data is missing, the wrong size or changed since it was verified.
            return new Check(label, "fail", ex.Message);
        }
        var (ok, detail) = Smoke(path, cancellationToken);
        return new Check(label, ok ? "ok" : "fail", detail);
    }

    /// <summary>Loads the model in the embedded engine and generates a few greedy tokens from a smoke prompt.</summary>
    internal static (bool Ok, string Detail) Smoke(string path, CancellationToken cancellationToken)
    {
        try
        {
            var watch = Stopwatch.StartNew();
            using var client = EngineChatClient.Open(path, new EngineOptions { Threads = 1 });
            var generator = client.Generator;
            var prompt = generator.Tokenizer.Encode("Once upon a time", addSpecial: true, parseSpecial: false);
            var result = generator.Generate(prompt, new GenerationOptions { MaxTokens = 8, Sampling = SamplingOptions.Greedy }, null, cancellationToken);
            if (result.Tokens.Count == 0)
                return (false, "loaded but generated no token");
            return (true, $"loads and answers ({result.Tokens.Count} tokens in {watch.Elapsed.TotalMilliseconds:F0} ms)");
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return (false, ex.Message);
        }
    }

    /// <summary>
    /// A model value is a GGUF path (absolute, or relative to the configuration file's folder) or a store reference,
    /// resolved to its blob. Doctor never downloads: a model missing from the store is reported, not pulled.
    /// </summary>
    internal static string? ResolveModelPath(string model, HearthConfig config)
    {
        var baseDir = config.SourcePath is { } s ? Path.GetDirectoryName(s)! : Environment.CurrentDirectory;
        var candidate = Path.IsPathRooted(model) ? model : Path.GetFullPath(Path.Combine(baseDir, model));
        if (File.Exists(candidate))
            return candidate;
        if (model.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase))
            return null;
        return ModelStore.Open(config).TryResolve(model, out var path) ? path : null;
    }

    /// <summary>
    /// Re-runs <c>hearth doctor --isolated-child --json</c> under <c>unshare --net --map-root-user</c>: a fresh network
    /// namespace with no interfaces but a loopback that is down. Returns the child's checks, or why isolation failed.
    /// </summary>
    private static async Task<(List<Check>? Checks, string Failure)> RunIsolatedAsync(CliContext context, FileInfo? file, CancellationToken cancellationToken)
    {
        if (!OperatingSystem.IsLinux())
            return (null, $"network namespaces need Linux (this is {System.Runtime.InteropServices.RuntimeInformation.OSDescription})");
        var unshare = FindOnPath("unshare");
        if (unshare is null)
            return (null, "the 'unshare' program (util-linux) is not installed");
        List<string> args = ["doctor", "--isolated-child", "--json"];
        if (file is not null)
            args.AddRange(["--config", file.FullName]);
        var start = IsolatedStart(unshare, context, args);
        using var process = Process.Start(start) ?? throw new CliException("could not start " + unshare);
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        var output = await stdout;
        var error = (await stderr).Trim();
        JsonNode? doc = null;
        try
        {
            doc = output.Length > 0 ? JsonNode.Parse(output) : null;
        }
        catch (JsonException)
        {
        }
        if (doc?["checks"] is not JsonArray array)
            return (null, $"unshare exited {process.ExitCode}: {(error.Length > 0 ? error : output.Trim())}");
        var checks = array.Select(n => new Check(
            (string?)n?["check"] ?? "?", (string?)n?["status"] ?? "fail", (string?)n?["detail"] ?? "")).ToList();
        return (checks, "");
    }

    /// <summary>
    /// This same CLI with <paramref name="args"/>, under <c>unshare --net --map-root-user</c> (a new network namespace),
    /// with the command's environment and redirected output.
    /// </summary>
    internal static ProcessStartInfo IsolatedStart(string unshare, CliContext context, IEnumerable<string> args)
    {
        var (host, prefix) = SelfCommand();
        var start = new ProcessStartInfo(unshare) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in (string[])["--net", "--map-root-user", "--", host, .. prefix, .. args])
            start.ArgumentList.Add(a);
        start.Environment.Clear();
        foreach (System.Collections.DictionaryEntry e in context.EnvironmentVariables)
            start.Environment[(string)e.Key] = e.Value as string;
        return start;
    }

    /// <summary>How to start this same CLI again: the apphost, or <c>dotnet exec hearth.dll</c>.</summary>
    internal static (string Host, string[] Prefix) SelfCommand()
    {
        var dll = typeof(DoctorCommand).Assembly.Location;
        var process = Environment.ProcessPath;
        if (process is not null && Path.GetFileNameWithoutExtension(process) == "hearth")
            return (process, []);
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h && File.Exists(h) ? h
            : process is not null && Path.GetFileNameWithoutExtension(process) == "dotnet" ? process
            : FindOnPath("dotnet") ?? "dotnet";
        return (dotnet, ["exec", dll]);
    }

    internal static string? FindOnPath(string name)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate))
                return candidate;
        }
        return null;
    }
}
