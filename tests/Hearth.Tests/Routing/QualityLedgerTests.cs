using Hearth.Routing;

namespace Hearth.Tests.Routing;

public sealed class QualityLedgerTests : IDisposable
{
    private readonly string _home = Directory.CreateTempSubdirectory("hearth-quality-").FullName;

    public void Dispose() => Directory.Delete(_home, recursive: true);

    private static QualityRecord Record(string model, string domain, double score, int minutesAgo) =>
        new(DateTimeOffset.UtcNow.AddMinutes(-minutesAgo), model, domain, score, 1 / score, 100, new string('a', 64));

    [Fact]
    public void NewestRecordPerModelAndDomainWinsAndATornTailIsSkipped()
    {
        var ledger = QualityLedger.ForHome(_home);
        Assert.Empty(ledger.Latest());
        ledger.Append(Record("m", "healthcare", 0.2, 10));
        ledger.Append(Record("m", "healthcare", 0.4, 1));
        ledger.Append(Record("m", "business", 0.3, 5));
        ledger.Append(Record("n", "healthcare", 0.9, 5));
        File.AppendAllText(ledger.Path, "{\"time\":\"2026-");
        var latest = ledger.Latest().ToDictionary(r => (r.Model, r.Domain), r => r.Score);
        Assert.Equal(3, latest.Count);
        Assert.Equal(0.4, latest[("m", "healthcare")]);
        Assert.Equal(0.3, latest[("m", "business")]);
        Assert.Equal(0.9, latest[("n", "healthcare")]);
        Assert.Throws<ArgumentOutOfRangeException>(() => ledger.Append(Record("m", "x", 1.5, 0)));
    }

    [Fact]
    public void ACorruptLineInTheMiddleIsAnErrorNamingFileAndLine()
    {
        var ledger = QualityLedger.ForHome(_home);
        ledger.Append(Record("m", "healthcare", 0.2, 10));
        File.AppendAllText(ledger.Path, "not json\n");
        ledger.Append(Record("m", "healthcare", 0.4, 1));
        var e = Assert.Throws<InvalidDataException>(() => ledger.Latest());
        Assert.Contains("quality.jsonl:2", e.Message, StringComparison.Ordinal);
    }
}
