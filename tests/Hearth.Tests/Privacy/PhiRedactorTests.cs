using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Hearth.Privacy;
using Xunit.Abstractions;

namespace Hearth.Tests.Privacy;

public sealed partial class PhiRedactorTests(ITestOutputHelper output)
{
    private sealed record Sample(string Text, List<(string Type, int Start, int Length)> Gold);

    [GeneratedRegex(@"\[\[([A-Z_]+)\|(.+?)\]\]")]
    private static partial Regex Markup();

    private static List<Sample> LoadCorpus()
    {
        var samples = new List<Sample>();
        foreach (var line in File.ReadLines(Path.Combine(AppContext.BaseDirectory, "Privacy", "phi-corpus.txt")))
        {
            if (line.Length == 0 || line.StartsWith('#'))
                continue;
            var text = new StringBuilder();
            var gold = new List<(string, int, int)>();
            var at = 0;
            foreach (Match m in Markup().Matches(line))
            {
                text.Append(line, at, m.Index - at);
                gold.Add((m.Groups[1].Value, text.Length, m.Groups[2].Length));
                text.Append(m.Groups[2].Value);
                at = m.Index + m.Length;
            }

            text.Append(line, at, line.Length - at);
            samples.Add(new Sample(text.ToString(), gold));
        }

        return samples;
    }

    /// <summary>Per type: (gold, predicted, matched gold, matched predicted). A match is same type and overlapping span.</summary>
    private static SortedDictionary<string, int[]> Score(List<Sample> corpus)
    {
        var stats = new SortedDictionary<string, int[]>(StringComparer.Ordinal);
        int[] Row(string type) => stats.TryGetValue(type, out var r) ? r : stats[type] = new int[4];
        foreach (var s in corpus)
        {
            var predicted = PhiRedactor.Find(s.Text).Select(p => (Type: PhiRedactor.Tag(p.Type), p.Start, p.Length)).ToList();
            static bool Overlap((string Type, int Start, int Length) a, (string Type, int Start, int Length) b)
                => a.Type == b.Type && a.Start < b.Start + b.Length && b.Start < a.Start + a.Length;
            foreach (var g in s.Gold)
            {
                Row(g.Type)[0]++;
                if (predicted.Any(p => Overlap(p, g)))
                    Row(g.Type)[2]++;
            }

            foreach (var p in predicted)
            {
                Row(p.Type)[1]++;
                if (s.Gold.Any(g => Overlap(p, g)))
                    Row(p.Type)[3]++;
            }
        }

        return stats;
    }

    [Fact]
    public void CorpusHasAtLeast200SentencesWithCleanOnes()
    {
        var corpus = LoadCorpus();
        Assert.True(corpus.Count >= 200, $"corpus has {corpus.Count} sentences");
        Assert.True(corpus.Count(s => s.Gold.Count == 0) >= 60);
        Assert.Equal(17, corpus.SelectMany(s => s.Gold).Select(g => g.Type).Distinct().Count());
    }

    [Fact]
    public void PrecisionAndRecallPerIdentifierType()
    {
        var stats = Score(LoadCorpus());
        var table = new StringBuilder("| identifier | gold | found | precision | recall |\n|---|---:|---:|---:|---:|\n");
        foreach (var (type, r) in stats)
        {
            var precision = r[1] == 0 ? 1.0 : (double)r[3] / r[1];
            var recall = r[0] == 0 ? 1.0 : (double)r[2] / r[0];
            table.Append(CultureInfo.InvariantCulture, $"| {type} | {r[0]} | {r[1]} | {precision:0.000} | {recall:0.000} |\n");
        }

        var totals = stats.Values.Aggregate(new int[4], (a, r) => [a[0] + r[0], a[1] + r[1], a[2] + r[2], a[3] + r[3]]);
        table.Append(CultureInfo.InvariantCulture, $"| all | {totals[0]} | {totals[1]} | {(double)totals[3] / totals[1]:0.000} | {(double)totals[2] / totals[0]:0.000} |\n");
        output.WriteLine(table.ToString());

        foreach (var (type, r) in stats)
        {
            var precision = r[1] == 0 ? 1.0 : (double)r[3] / r[1];
            var recall = r[0] == 0 ? 1.0 : (double)r[2] / r[0];
            Assert.True(recall >= 0.8, $"{type}: recall {recall:0.000} below 0.8");
            Assert.True(precision >= 0.8, $"{type}: precision {precision:0.000} below 0.8");
        }

        Assert.True((double)totals[2] / totals[0] >= 0.9, "overall recall below 0.9");
        Assert.True((double)totals[3] / totals[1] >= 0.9, "overall precision below 0.9");
    }

    [Fact]
    public void CleanSentencesAreLeftAlone()
    {
        var clean = LoadCorpus().Where(s => s.Gold.Count == 0).ToList();
        var touched = clean.Where(s => PhiRedactor.Redact(s.Text) != s.Text).Select(s => s.Text).ToList();
        Assert.True(touched.Count <= clean.Count / 20, "clean sentences changed: " + string.Join(" | ", touched));
    }

    [Theory]
    [InlineData("Patient John Smith, SSN 123-45-6789, call 555-234-5678.", "Patient [NAME], SSN [SSN], call [PHONE].")]
    [InlineData("Email jsmith@example.com or fax 555-222-3344.", "Email [EMAIL] or fax [FAX].")]
    [InlineData("Seen on March 3, 2024 by Dr. Chen.", "Seen on [DATE] by Dr. [NAME].")]
    [InlineData("The 92-year-old was admitted in 2024.", "The [AGE] was admitted in 2024.")]
    [InlineData("Take 500 mg twice a day.", "Take 500 mg twice a day.")]
    public void RedactReplacesWithTags(string input, string expected) => Assert.Equal(expected, PhiRedactor.Redact(input));

    [Fact]
    public void AuditLogUsesRedactorOutsideHipaaMode()
    {
        var dir = Directory.CreateTempSubdirectory("hearth-phi-").FullName;
        try
        {
            using (var log = AuditLog.Open(dir, new AuditLogOptions { Hipaa = false, Redact = PhiRedactor.Redact }))
                log.AppendRequest(new AuditRequestRecord { RequestId = "r", Prompt = "Patient Jane Doe, MRN 55102938, DOB 02/17/1948" });
            var text = string.Concat(Directory.EnumerateFiles(dir, "audit-*.jsonl").Select(File.ReadAllText));
            // The chain hashes and salted digests are random-looking hex that may hold "55102938" by chance: look at the
            // entry's data, with the hex digests taken out.
            using var entry = System.Text.Json.JsonDocument.Parse(text);
            var withoutHex = Regex.Replace(entry.RootElement.GetProperty("data").GetRawText(), "[0-9a-f]{32,}", "");
            Assert.DoesNotContain("Jane", text, StringComparison.Ordinal);
            Assert.DoesNotContain("55102938", withoutHex, StringComparison.Ordinal);
            Assert.Contains("[MRN]", text, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
