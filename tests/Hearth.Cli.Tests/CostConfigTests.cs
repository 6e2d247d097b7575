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

    [Fact]
    public async Task EmbeddingCallsArePricedAtTheEmbeddingPriceNotTheChatTables()
    {
        // One chat request (1M in, 0.5M out, 1 h) and one embedding call (2M tokens, 1 h) in the usage ledger; the chat
        // line is written as older Hearth versions wrote it, without a kind.
        var ledger = Path.Combine((string)_env["HEARTH_HOME"]!, "usage", "usage.jsonl");
        Directory.CreateDirectory(Path.GetDirectoryName(ledger)!);
        var now = DateTimeOffset.UtcNow.ToString("O", System.Globalization.CultureInfo.InvariantCulture);
        File.WriteAllText(ledger,
            $"{{\"time\":\"{now}\",\"provider\":\"embedded\",\"model\":\"chat-model\",\"input_tokens\":1000000,\"output_tokens\":500000,\"seconds\":3600,\"outcome\":\"completed\"}}\n" +
            $"{{\"time\":\"{now}\",\"provider\":\"embedded\",\"model\":\"embed-model\",\"input_tokens\":2000000,\"output_tokens\":0,\"seconds\":3600,\"outcome\":\"completed\",\"kind\":\"embedding\"}}\n");

        // 1 × 1 + 0.5 × 2 for chat, 2 × 0.5 for embeddings = 3 USD; local: 2 h at 1 + 0 USD/h = 2 USD.
        var path = Config("cost:\n  hardware_price: 1000\n  lifetime_hours: 1000\n  kwh_price: 0\n  cloud_embedding_price: 0.25\n");
        var r = await CliRunner.RunWithAsync(_env, null, "cost", "--config", path, "--price", "x=1/2", "--embedding-price", "0.5");
        Assert.True(r.ExitCode == 0, r.Out + r.Error);
        Assert.Contains("2 requests, 1000000 input + 500000 output tokens, 2.000 h", r.Out, StringComparison.Ordinal);
        Assert.Contains("embeddings: 1 of those requests, 2000000 input tokens", r.Out, StringComparison.Ordinal);
        Assert.Contains("2.0000 USD for this traffic", r.Out, StringComparison.Ordinal);
        Assert.Matches(@"x\s+│\s+3\.0000\s+│\s+1\.0000", r.Out);
        Assert.Matches(@"embed-model\s+│\s+embedding\s+│\s+1\s+│\s+2000000", r.Out);
        Assert.Matches(@"chat-model\s+│\s+chat\s+│\s+1\s+│\s+1000000", r.Out);

        // Without the option the configured price applies: 1 + 1 + 2 × 0.25 = 2.5 USD.
        var configured = await CliRunner.RunWithAsync(_env, null, "cost", "--config", path, "--price", "x=1/2");
        Assert.True(configured.ExitCode == 0, configured.Out + configured.Error);
        Assert.Matches(@"x\s+│\s+2\.5000", configured.Out);

        var negative = await CliRunner.RunWithAsync(_env, null, "cost", "--config", path, "--embedding-price", "-1");
        Assert.Equal(1, negative.ExitCode);
        Assert.Contains("--embedding-price", negative.Error, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        if (Directory.Exists(_dir))
            Directory.Delete(_dir, recursive: true);
    }
}
