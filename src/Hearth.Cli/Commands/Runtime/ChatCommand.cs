using System.CommandLine;
using System.Globalization;
using System.Text;
using Hearth.Configuration;
using Hearth.Privacy;
using Hearth.Routing;
using Hearth.Runtime;
using Microsoft.Extensions.AI;
using Spectre.Console;

namespace Hearth.Cli.Commands.Runtime;

/// <summary>
/// <c>hearth chat [--model NAME | --domain NAME]</c>: an interactive chat through the runtime. A line ending in <c>\</c>
/// continues the message; <c>/model</c>, <c>/domain</c>, <c>/route</c>, <c>/privacy</c>, <c>/clear</c>, <c>/exit</c>;
/// Ctrl+C cancels a generation without leaving.
/// </summary>
internal static class ChatCommand
{
    public static Command Create(CliContext context)
    {
        var config = CliConfig.CreateOption();
        var model = new Option<string?>("--model", "-m") { Description = "Model to talk to (store name or GGUF file); skips routing" };
        var domain = new Option<string?>("--domain", "-d") { Description = "Domain to use; skips routing" };
        var maxTokens = new Option<int>("--max-tokens", "-n") { Description = "Most tokens per answer", DefaultValueFactory = _ => 512 };
        var threads = new Option<int>("--threads", "-t") { Description = "Engine threads (0 = physical cores)" };
        var command = new Command("chat", "Chat with local models in the terminal, through the router, privacy policy and audit")
        {
            config, model, domain, maxTokens, threads,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var cfg = CliConfig.Load(context, parse.GetValue(config));
            if (parse.GetValue(domain) is { } d && !cfg.Domains.ContainsKey(d))
                throw new CliException($"unknown domain '{d}'; configured: {string.Join(", ", cfg.Domains.Keys)}");
            using var runtime = HearthRuntime.Create(cfg, new HearthRuntimeOptions { Threads = parse.GetValue(threads) });
            var session = new ChatSession(context, runtime, parse.GetValue(model), parse.GetValue(domain), parse.GetValue(maxTokens));
            return await session.RunAsync(cancellationToken);
        });
        return command;
    }

    private sealed class ChatSession(CliContext context, HearthRuntime runtime, string? model, string? domain, int maxTokens)
    {
        private readonly List<ChatMessage> _history = [];
        private RouteDecision? _lastRoute;
        private string? _lastAnswer;

        public async Task<int> RunAsync(CancellationToken cancellationToken)
        {
            var input = context.Input ?? Console.In;
            var console = context.Console;
            console.MarkupLine($"[bold]hearth chat[/] — {Describe()}. Type /help for commands, /exit to leave.");
            CancellationTokenSource? generation = null;
            ConsoleCancelEventHandler onCancel = (_, e) =>
            {
                // Ctrl+C during a generation cancels it; at the prompt it leaves as usual.
                if (generation is { } g && !g.IsCancellationRequested)
                {
                    e.Cancel = true;
                    g.Cancel();
                }
            };
            Console.CancelKeyPress += onCancel;
            try
            {
                while (!cancellationToken.IsCancellationRequested)
                {
                    context.Raw.Write(">>> ");
                    context.Raw.Flush();
                    var text = ReadMessage(input);
                    if (text is null)
                        break;
                    if (text.Length == 0)
                        continue;
                    if (text.StartsWith('/'))
                    {
                        if (!Command(text))
                            break;
                        continue;
                    }

                    using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                    generation = cts;
                    await AnswerAsync(text, cts.Token);
                    generation = null;
                }
            }
            finally
            {
                Console.CancelKeyPress -= onCancel;
            }

            return 0;
        }

        private string Describe() => model is not null ? $"model {model}" : domain is not null ? $"domain {domain}" : "routing each message to a domain";

        /// <summary>One message: lines ending in a backslash continue it.</summary>
        private static string? ReadMessage(TextReader input)
        {
            var sb = new StringBuilder();
            while (input.ReadLine() is { } line)
            {
                if (line.EndsWith('\\'))
                {
                    sb.Append(line.AsSpan(0, line.Length - 1)).Append('\n');
                    continue;
                }

                sb.Append(line);
                return sb.ToString().Trim();
            }

            return sb.Length > 0 ? sb.ToString().Trim() : null;
        }

        private bool Command(string text)
        {
            var console = context.Console;
            var parts = text.Split(' ', 2, StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            var arg = parts.Length > 1 ? parts[1] : null;
            switch (parts[0])
            {
                case "/exit" or "/quit" or "/bye":
                    return false;
                case "/help":
                    console.WriteLine("/model NAME  talk to one model (no routing)   /domain NAME  use one domain   /auto  route each message");
                    console.WriteLine("/route  show the last routing decision   /privacy  egress counters and audit status   /clear  forget the conversation   /exit");
                    break;
                case "/model":
                    model = arg;
                    domain = null;
                    console.WriteLine(arg is null ? "model cleared: routing each message" : $"model set to {arg}");
                    break;
                case "/domain":
                    if (arg is not null && !runtime.Config.Domains.ContainsKey(arg))
                    {
                        console.WriteLine($"unknown domain '{arg}'; configured: {string.Join(", ", runtime.Config.Domains.Keys)}");
                        break;
                    }

                    domain = arg;
                    model = null;
                    console.WriteLine(arg is null ? "domain cleared: routing each message" : $"domain set to {arg}");
                    break;
                case "/auto":
                    model = null;
                    domain = null;
                    console.WriteLine("routing each message");
                    break;
                case "/route":
                    console.WriteLine(_lastRoute?.Explain().TrimEnd() ?? (_lastAnswer is null ? "no message sent yet" : $"no routing: {Describe()}"));
                    break;
                case "/privacy":
                    var (allowed, refused) = runtime.EgressCounts;
                    console.WriteLine($"egress: {allowed} connections allowed, {refused} refused; allowed endpoints: {string.Join(", ", runtime.Config.EgressAllowList.Select(u => u.GetLeftPart(UriPartial.Authority)))}");
                    if (runtime.Config.Healthcare.AuditTrail == AuditTrailMode.Disabled)
                    {
                        console.WriteLine("audit: disabled by configuration");
                    }
                    else
                    {
                        var v = AuditLog.Verify(runtime.Config.AuditDirectory);
                        console.WriteLine(v.IsValid ? $"audit: chain intact, {v.EntriesVerified} entries ({runtime.Config.AuditDirectory}); hipaa mode: {runtime.Config.Healthcare.ComplianceMode == ComplianceMode.Hipaa}" : $"audit: PROBLEM {v.Problem}");
                    }

                    break;
                case "/clear":
                    _history.Clear();
                    console.WriteLine("conversation cleared");
                    break;
                default:
                    console.WriteLine($"unknown command {parts[0]}; /help lists them");
                    break;
            }

            return true;
        }

        private async Task AnswerAsync(string text, CancellationToken cancellationToken)
        {
            _history.Add(new ChatMessage(ChatRole.User, text));
            var options = new ChatOptions { MaxOutputTokens = maxTokens, AdditionalProperties = [] };
            if (model is not null)
            {
                options.ModelId = model;
                options.AdditionalProperties[HearthChatOptionKeys.Provider] = "embedded";
            }
            else if (domain is not null)
            {
                options.AdditionalProperties[HearthChatOptionKeys.Domain] = domain;
            }

            var answer = new StringBuilder();
            _lastRoute = null;
            try
            {
                await foreach (var u in runtime.ChatClient.GetStreamingResponseAsync(_history, options, cancellationToken))
                {
                    if (u.AdditionalProperties?.TryGetValue(RoutingChatOptionKeys.Decision, out var d) == true && d is RouteDecision rd)
                        _lastRoute = rd;
                    answer.Append(u.Text);
                    context.Raw.Write(u.Text);
                    context.Raw.Flush();
                }

                context.Raw.WriteLine();
                _history.Add(new ChatMessage(ChatRole.Assistant, answer.ToString()));
                _lastAnswer = answer.ToString();
            }
            catch (OperationCanceledException)
            {
                context.Raw.WriteLine();
                context.Console.MarkupLine("[yellow](cancelled)[/]");
                _history.RemoveAt(_history.Count - 1);
            }
            catch (Exception ex) when (ex is PolicyRefusedException or ModelUnavailableException or ArgumentException or HttpRequestException)
            {
                context.Raw.WriteLine();
                context.Error.MarkupLine($"[red]error:[/] {Markup.Escape(ex.Message)}");
                _history.RemoveAt(_history.Count - 1);
            }
        }
    }
}

/// <summary><c>hearth cost [--since 30d]</c>: what the recorded traffic cost locally and would have cost in the cloud.</summary>
internal static class CostCommand
{
    /// <summary>Default cloud prices, USD per 1M input / output tokens (public list prices; override with --prices).</summary>
    internal static readonly IReadOnlyDictionary<string, (double Input, double Output)> DefaultPrices = new Dictionary<string, (double, double)>
    {
        ["gpt-4o"] = (2.50, 10.00),
        ["gpt-4o-mini"] = (0.15, 0.60),
        ["claude-sonnet"] = (3.00, 15.00),
        ["claude-haiku"] = (0.80, 4.00),
    };

    public static Command Create(CliContext context)
    {
        var config = CliConfig.CreateOption();
        var since = new Option<string?>("--since") { Description = "Only traffic newer than this: 7d, 24h or a date such as 2026-01-31" };
        var prices = new Option<string[]>("--price") { Description = "Cloud price table entry NAME=INPUT/OUTPUT (USD per 1M tokens), e.g. gpt-4o=2.5/10; replaces cost.cloud_prices and the defaults", AllowMultipleArgumentsPerToken = true };
        var hardware = new Option<double?>("--hardware-price") { Description = "What the machine cost (USD); overrides cost.hardware_price (default 1500)" };
        var lifetime = new Option<double?>("--lifetime-hours") { Description = "Hours of use the hardware is written off over; overrides cost.lifetime_hours (default 8760)" };
        var watts = new Option<double?>("--power-watts") { Description = "Power draw while generating (W); overrides cost.power_watts (default 65)" };
        var kwh = new Option<double?>("--kwh-price") { Description = "Electricity price (USD per kWh); overrides cost.kwh_price (default 0.20)" };
        var embeddingPrice = new Option<double?>("--embedding-price") { Description = "Cloud price of embeddings (USD per 1M input tokens); overrides cost.cloud_embedding_price (default 0.02)" };
        var command = new Command("cost", "Local versus cloud cost of the traffic Hearth served, with the break-even point")
        {
            config, since, prices, hardware, lifetime, watts, kwh, embeddingPrice,
        };
        command.SetAction(parse =>
        {
            var cfg = CliConfig.Load(context, parse.GetValue(config));
            var from = Audit.AuditCommand.ParseSince(parse.GetValue(since), DateTimeOffset.UtcNow);
            var given = parse.GetValue(prices);
            var table = given is { Length: > 0 } || cfg.Cost.CloudPrices.Count == 0
                ? ParsePrices(given)
                : cfg.Cost.CloudPrices.ToDictionary(p => p.Key, p => (p.Value.Input, p.Value.Output), StringComparer.Ordinal);
            var records = UsageLedger.ForHome(cfg.HearthHome).Read(from);
            var report = CostReport.Compute(records, table, Positive(parse.GetValue(hardware), "--hardware-price") ?? cfg.Cost.HardwarePrice,
                Positive(parse.GetValue(lifetime), "--lifetime-hours") ?? cfg.Cost.LifetimeHours, Positive(parse.GetValue(watts), "--power-watts") ?? cfg.Cost.PowerWatts,
                Positive(parse.GetValue(kwh), "--kwh-price") ?? cfg.Cost.KwhPrice,
                Positive(parse.GetValue(embeddingPrice), "--embedding-price") ?? cfg.Cost.CloudEmbeddingPrice);
            Render(context, report, from);
            return 0;
        });
        return command;
    }

    private static double? Positive(double? value, string option)
        => value is { } v && (v < 0 || !double.IsFinite(v) || (v == 0 && option == "--lifetime-hours"))
            ? throw new CliException($"{option} {v.ToString(CultureInfo.InvariantCulture)}: must be {(option == "--lifetime-hours" ? "above zero" : "zero or more")}")
            : value;

    internal static IReadOnlyDictionary<string, (double Input, double Output)> ParsePrices(string[]? entries)
    {
        if (entries is null || entries.Length == 0)
            return DefaultPrices;
        var result = new Dictionary<string, (double, double)>(StringComparer.Ordinal);
        foreach (var e in entries)
        {
            var eq = e.IndexOf('=', StringComparison.Ordinal);
            var slash = e.IndexOf('/', StringComparison.Ordinal);
            if (eq <= 0 || slash < eq
                || !double.TryParse(e.AsSpan(eq + 1, slash - eq - 1), NumberStyles.Float, CultureInfo.InvariantCulture, out var input)
                || !double.TryParse(e.AsSpan(slash + 1), NumberStyles.Float, CultureInfo.InvariantCulture, out var output)
                || input < 0 || output < 0)
                throw new CliException($"--price {e}: expected NAME=INPUT/OUTPUT in USD per 1M tokens, e.g. gpt-4o=2.5/10");
            result[e[..eq]] = (input, output);
        }

        return result;
    }

    private static void Render(CliContext context, CostReport r, DateTimeOffset? from)
    {
        var console = context.Console;
        var inv = CultureInfo.InvariantCulture;
        console.MarkupLine($"[bold]traffic[/] {(from is null ? "(all recorded)" : "since " + from.Value.ToString("yyyy-MM-dd HH:mm", inv))}: {r.Requests} requests, {r.InputTokens} input + {r.OutputTokens} output tokens, {r.Hours.ToString("0.000", inv)} h of generation");
        if (r.EmbeddingRequests > 0)
            console.MarkupLine(string.Create(inv, $"[bold]embeddings[/]: {r.EmbeddingRequests} of those requests, {r.EmbeddingTokens} input tokens, priced in the cloud tables at {r.EmbeddingPrice:0.####} USD per 1M tokens (cost.cloud_embedding_price)"));
        var byModel = new Table().AddColumns("PROVIDER", "MODEL", "KIND", "REQUESTS", "INPUT", "OUTPUT", "SECONDS");
        foreach (var m in r.ByModel)
            byModel.AddRow(Markup.Escape(m.Provider), Markup.Escape(m.Model), m.Kind, m.Requests.ToString(inv), m.InputTokens.ToString(inv), m.OutputTokens.ToString(inv), m.Seconds.ToString("0.0", inv));
        console.Write(byModel);
        console.MarkupLine(string.Create(inv, $"[bold]local[/]: {r.LocalPerHour:0.0000} USD/h (hardware {r.HardwarePerHour:0.0000} + power {r.PowerPerHour:0.0000}) → {r.LocalCost:0.0000} USD for this traffic, {r.LocalPerMillionOutput:0.00} USD per 1M output tokens"));
        var cloud = new Table().AddColumns("CLOUD PRICE TABLE", "SAME TRAFFIC (USD)", "LOCAL SAVES (USD)", "BREAK-EVEN (h of use)");
        foreach (var c in r.Cloud)
            cloud.AddRow(Markup.Escape(c.Name), c.Cost.ToString("0.0000", inv), (c.Cost - r.LocalCost).ToString("0.0000", inv), c.BreakEvenHours is { } h ? h.ToString("0.0", inv) : "never");
        console.Write(cloud);
        console.WriteLine("Break-even: hours of generation at this machine's measured speed after which buying the hardware cost less than paying that cloud price for the same tokens.");
    }
}

/// <summary>Local versus cloud cost of recorded usage, as in a local-versus-cloud decision record.</summary>
/// <remarks>
/// Embedding calls (<see cref="UsageRecord.IsEmbedding"/>) use the machine like chat requests but are priced in the
/// cloud by a separate embedding price per 1M input tokens, not by the chat tables; their tokens are kept out of
/// <see cref="InputTokens"/> and the per-output-token figure.
/// </remarks>
internal sealed record CostReport(
    int Requests, long InputTokens, long OutputTokens, double Hours,
    double HardwarePerHour, double PowerPerHour, double LocalCost, double LocalPerMillionOutput,
    IReadOnlyList<(string Provider, string Model, string Kind, int Requests, long InputTokens, long OutputTokens, double Seconds)> ByModel,
    IReadOnlyList<(string Name, double Cost, double? BreakEvenHours)> Cloud,
    int EmbeddingRequests = 0, long EmbeddingTokens = 0, double EmbeddingPrice = 0)
{
    public double LocalPerHour => HardwarePerHour + PowerPerHour;

    public static CostReport Compute(IReadOnlyList<UsageRecord> records, IReadOnlyDictionary<string, (double Input, double Output)> prices, double hardwarePrice, double lifetimeHours, double watts, double kwhPrice, double embeddingPrice = 0)
    {
        if (lifetimeHours <= 0)
            throw new ArgumentOutOfRangeException(nameof(lifetimeHours), "must be positive");
        // Only local providers cost hardware time; cloud traffic is priced at its own table already.
        var local = records.Where(r => r.Provider is not ("openai" or "anthropic")).ToList();
        var chat = local.Where(r => !r.IsEmbedding).ToList();
        var embeddings = local.Where(r => r.IsEmbedding).ToList();
        long input = chat.Sum(r => (long)r.InputTokens), output = chat.Sum(r => (long)r.OutputTokens);
        var embeddingTokens = embeddings.Sum(r => (long)r.InputTokens);
        var hours = local.Sum(r => r.Seconds) / 3600;
        var hardwarePerHour = hardwarePrice / lifetimeHours;
        var powerPerHour = watts / 1000 * kwhPrice;
        var localCost = hours * (hardwarePerHour + powerPerHour);
        var byModel = records.GroupBy(r => (r.Provider, r.Model, Kind: r.IsEmbedding ? UsageRecord.Embedding : "chat"))
            .OrderBy(g => g.Key.Provider, StringComparer.Ordinal).ThenBy(g => g.Key.Model, StringComparer.Ordinal).ThenBy(g => g.Key.Kind, StringComparer.Ordinal)
            .Select(g => (g.Key.Provider, g.Key.Model, g.Key.Kind, g.Count(), g.Sum(r => (long)r.InputTokens), g.Sum(r => (long)r.OutputTokens), g.Sum(r => r.Seconds))).ToList();
        var cloud = prices.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p =>
        {
            var cost = input / 1e6 * p.Value.Input + output / 1e6 * p.Value.Output + embeddingTokens / 1e6 * embeddingPrice;
            // Per hour of local generation, the cloud would have charged cost/hours; the hardware pays for itself when
            // the saving per hour (cloud minus power) has covered its price.
            double? breakEven = hours > 0 && cost / hours > powerPerHour ? hardwarePrice / (cost / hours - powerPerHour) : null;
            return (p.Key, cost, breakEven);
        }).ToList();
        return new CostReport(local.Count, input, output, hours, hardwarePerHour, powerPerHour, localCost,
            output > 0 ? localCost / (output / 1e6) : 0, byModel, cloud, embeddings.Count, embeddingTokens, embeddingPrice);
    }
}
