using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Hearth.Privacy;
using Spectre.Console;

namespace Hearth.Cli.Commands.Audit;

/// <summary>
/// <c>hearth audit verify|tail|export</c>: the hash-chained audit trail under <c>$HEARTH_HOME/audit</c>.
/// <c>verify</c> exits 1 and names the first edited, deleted, inserted or reordered entry (file, line, sequence),
/// or the torn tail an interrupted write left.
/// </summary>
internal static class AuditCommand
{
    public static Command Create(CliContext context)
    {
        return new Command("audit", "Verify, read and export the local audit trail")
        {
            CreateVerify(context),
            CreateTail(context),
            CreateExport(context),
        };
    }

    private static Option<DirectoryInfo?> DirOption() => new("--dir")
    {
        Description = "Audit directory (default: $HEARTH_HOME/audit)",
    };

    private static string ResolveDirectory(CliContext context, ParseResult parse, Option<FileInfo?> config, Option<DirectoryInfo?> dir)
    {
        if (parse.GetValue(dir) is { } d)
            return d.FullName;
        return CliConfig.Load(context, parse.GetValue(config)).AuditDirectory;
    }

    private static Command CreateVerify(CliContext context)
    {
        var config = CliConfig.CreateOption();
        var dir = DirOption();
        var fast = new Option<bool>("--from-checkpoint") { Description = "Verify from the latest checkpoint only (fast on large logs)" };
        var json = new Option<bool>("--json") { Description = "Print the result as JSON" };
        var command = new Command("verify", "Re-hash the chain; report the first entry that was edited, deleted, inserted or reordered") { config, dir, fast, json };
        command.SetAction(parse =>
        {
            var directory = ResolveDirectory(context, parse, config, dir);
            if (!Directory.Exists(directory))
                throw new CliException($"no audit trail at {directory}");
            var result = AuditLog.Verify(directory, parse.GetValue(fast));
            if (parse.GetValue(json))
            {
                var o = new JsonObject
                {
                    ["directory"] = directory,
                    ["valid"] = result.IsValid,
                    ["entries_verified"] = result.EntriesVerified,
                    ["last_seq"] = result.LastSequence,
                    ["last_hash"] = result.LastHash,
                    ["problem"] = result.Problem?.ToString(),
                    ["torn_tail"] = result.TornTail?.ToString(),
                    ["notes"] = new JsonArray(result.Notes.Select(n => (JsonNode?)JsonValue.Create(n)).ToArray()),
                };
                context.Raw.WriteLine(o.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            }
            else
            {
                foreach (var note in result.Notes)
                    context.Console.MarkupLine($"[grey]note:[/] {Markup.Escape(note)}");
                if (result.IsValid)
                    context.Console.MarkupLine($"[green]ok[/] {result.EntriesVerified} entries verified, chain head seq {result.LastSequence} {result.LastHash[..Math.Min(16, result.LastHash.Length)]}…");
                if (result.Problem is { } p)
                    HearthCli.WriteError(context, $"audit trail tampered: {p} ({result.EntriesVerified} entries before it verify)");
                if (result.TornTail is { } t)
                    HearthCli.WriteError(context, $"audit trail incomplete: {t}");
            }
            return result.IsValid ? 0 : 1;
        });
        return command;
    }

    private static Command CreateTail(CliContext context)
    {
        var config = CliConfig.CreateOption();
        var dir = DirOption();
        var count = new Option<int>("-n", "--lines") { Description = "Number of entries", DefaultValueFactory = _ => 20 };
        count.Validators.Add(r => { if (r.GetValueOrDefault<int>() < 1) r.AddError("-n must be at least 1"); });
        var command = new Command("tail", "Print the most recent entries (JSON Lines)") { config, dir, count };
        command.SetAction(parse =>
        {
            var directory = ResolveDirectory(context, parse, config, dir);
            var n = parse.GetValue(count);
            var last = new Queue<string>(n);
            foreach (var line in ReadEntries(directory))
            {
                if (last.Count == n)
                    last.Dequeue();
                last.Enqueue(line);
            }
            foreach (var line in last)
                context.Raw.WriteLine(line);
            return 0;
        });
        return command;
    }

    private static Command CreateExport(CliContext context)
    {
        var config = CliConfig.CreateOption();
        var dir = DirOption();
        var since = new Option<string?>("--since") { Description = "Only entries at or after this time (ISO 8601 date or date-time, UTC), or a duration like 24h, 7d" };
        var output = new Option<FileInfo?>("--output", "-o") { Description = "Write to this file (atomically) instead of stdout" };
        var command = new Command("export", "Export entries as JSON Lines, verified lines exactly as stored") { config, dir, since, output };
        command.SetAction(parse =>
        {
            var directory = ResolveDirectory(context, parse, config, dir);
            var from = ParseSince(parse.GetValue(since), DateTimeOffset.UtcNow);
            var lines = ReadEntries(directory).Where(l => from is null || EntryTime(l) >= from);
            if (parse.GetValue(output) is { } file)
            {
                var temp = file.FullName + ".partial";
                File.WriteAllLines(temp, lines);
                File.Move(temp, file.FullName, overwrite: true);
                context.Console.MarkupLine($"wrote {Markup.Escape(file.FullName)}");
            }
            else
            {
                foreach (var line in lines)
                    context.Raw.WriteLine(line);
            }
            return 0;
        });
        return command;
    }

    /// <summary>Parses <c>--since</c>: an ISO date/time (UTC unless an offset is given) or a duration back from now.</summary>
    internal static DateTimeOffset? ParseSince(string? value, DateTimeOffset now)
    {
        if (string.IsNullOrWhiteSpace(value))
            return null;
        var v = value.Trim();
        if (v.Length >= 2 && char.IsDigit(v[0]) && (v[^1] is 'h' or 'd' or 'm') && double.TryParse(v[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out var amount) && amount >= 0)
            return now - (v[^1] switch { 'h' => TimeSpan.FromHours(amount), 'd' => TimeSpan.FromDays(amount), _ => TimeSpan.FromMinutes(amount) });
        if (DateTimeOffset.TryParse(v, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var t))
            return t;
        throw new CliException($"--since: cannot read '{value}' (expected e.g. 2026-11-01, 2026-11-01T08:00:00Z, 24h or 7d)");
    }

    private static IEnumerable<string> ReadEntries(string directory)
    {
        if (!Directory.Exists(directory))
            throw new CliException($"no audit trail at {directory}");
        foreach (var (file, _) in AuditLog.ListSegments(directory))
        {
            foreach (var line in File.ReadLines(file))
            {
                if (line.Length > 0)
                    yield return line;
            }
        }
    }

    private static DateTimeOffset? EntryTime(string line)
    {
        try
        {
            return JsonNode.Parse(line)?["time"]?.GetValue<string>() is { } s
                && DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t) ? t : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
