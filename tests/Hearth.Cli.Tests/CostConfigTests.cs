namespace Hearth.Cli.Tests;

/// <summary><c>hearth cost</c> takes its price tables and local costs from the <c>cost:</c> section; options override it.</summary>
public sealed class CostConfigTests : IDisposable
{
    private readonly System.Collections.Hashtable _env = CliRunner.Hermetic();
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "hearth-cost-" + Guid.NewGuid().ToString("N"));

    private string Config(string yaml, string name = "hearth.yaml")
    {
        Directory.CreateDirectory(_dir);
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, yaml);
        return path;
    }

    [Fact]
    public async Task CostUsesTheConfiguredTablesAndOptionsOverrideThem()
    {
        var path = Config("cost:\n  hardware_price: 1000\n  lifetime_hours: 1000\n  power_watts: 500\n  kwh_price: 2\n  cloud_prices:\n    acme/big-model: { input: 1, output: 2 }\n");
        var r = await CliRunner.RunWithAsync(_env, null, "cost", "--config", path);
        Assert.True(r.ExitCode == 0, r.Out + r.Error);
        Assert.Contains("2.0000 USD/h (hardware 1.0000 + power 1.0000)", r.Out, StringComparison.Ordinal);
        Assert.Contains("acme/big-model", r.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("gpt-4o", r.Out, StringComparison.Ordinal);

        var over = await CliRunner.RunWithAsync(_env, null, "cost", "--config", path, "--hardware-price", "3000", "--kwh-price", "0", "--price", "other=5/5");
        Assert.True(over.ExitCode == 0, over.Out + over.Error);
        Assert.Contains("3.0000 USD/h (hardware 3.0000 + power 0.0000)", over.Out, StringComparison.Ordinal);
        Assert.Contains("other", over.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("acme/big-model", over.Out, StringComparison.Ordinal);

        var bad = await CliRunner.RunWithAsync(_env, null, "cost", "--config", Config("cost:\n  lifetime_hours: 0\n", "bad.yaml"));
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("cost.lifetime_hours", bad.Error, StringComparison.Ordinal);
        Assert.Contains("bad.yaml:2", bad.Error, StringComparison.Ordinal);

        var negative = await CliRunner.RunWithAsync(_env, null, "cost", "--config", path, "--power-watts", "-1");
        Assert.Equal(1, negative.ExitCode);
        Assert.Contains("--power-watts", negative.Error, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        if (Directory.Exists(_dir))
            Directory.Delete(_dir, recursive: true);
    }
}
