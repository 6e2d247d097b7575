using Hearth.Configuration;
using Hearth.Runtime;
using Hearth.Server;
using Hearth.Tests.Shared;

namespace Hearth.Cli.Tests;

public sealed class RuntimeCommandTests : IDisposable
{
    private readonly System.Collections.Hashtable _env = CliRunner.Hermetic();

    private string Home => (string)_env["HEARTH_HOME"]!;

    [Fact]
    public async Task Demo_stores_routes_streams_and_proves_nothing_left_the_machine()
    {
        var r = await CliRunner.RunWithAsync(_env, null, "demo", "--model", Fixtures.Stories260K, "-n", "40");
        Assert.True(r.ExitCode == 0, r.Out + r.Error);
        Assert.Contains("imported stories260K.gguf as stories:260k", r.Out, StringComparison.Ordinal);
        Assert.Contains("domain stories", r.Out, StringComparison.Ordinal);
        Assert.Contains("tokens/s", r.Out, StringComparison.Ordinal);
        Assert.Contains("0 external connections", r.Out, StringComparison.Ordinal);
        Assert.Contains("verify passed", r.Out, StringComparison.Ordinal);
        Assert.Single(Directory.GetFiles(Path.Combine(Home, "blobs")));

        // Usage was recorded, so cost has traffic to price; a second demo reuses the stored model.
        var again = await CliRunner.RunWithAsync(_env, null, "demo", "--model", Fixtures.Stories260K, "-n", "10");
        Assert.Equal(0, again.ExitCode);
        Assert.Contains("already in", again.Out, StringComparison.Ordinal);
        var cost = await CliRunner.RunWithAsync(_env, null, "cost", "--price", "pricey=1000/1000");
        Assert.True(cost.ExitCode == 0, cost.Out + cost.Error);
        Assert.Contains("2 requests", cost.Out, StringComparison.Ordinal);
        Assert.Contains("pricey", cost.Out, StringComparison.Ordinal);
        Assert.Contains("stories:260k", cost.Out, StringComparison.Ordinal);
        var bad = await CliRunner.RunWithAsync(_env, null, "cost", "--price", "nonsense");
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("NAME=INPUT/OUTPUT", bad.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Demo_offline_runs_in_a_network_namespace_where_the_platform_allows()
    {
        var r = await CliRunner.RunWithAsync(_env, null, "demo", "--offline", "--model", Fixtures.Stories260K, "-n", "20");
        if (!PrivacyCommandTests.CanIsolate())
        {
            Assert.Equal(3, r.ExitCode);
            Assert.Contains("network namespace", r.Error, StringComparison.Ordinal);
            return;
        }

        Assert.True(r.ExitCode == 0, r.Out + r.Error);
        Assert.Contains("new network namespace", r.Out, StringComparison.Ordinal);
        Assert.Contains("0 external connections", r.Out, StringComparison.Ordinal);
        Assert.Contains("verify passed", r.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Chat_answers_and_handles_commands_from_standard_input()
    {
        const string input = "Once upon a time\\\nthere was\n/route\n/privacy\n/domain nope\n/help\n/exit\n";
        var r = await CliRunner.RunWithAsync(_env, input, "chat", "--model", Fixtures.Stories260K, "-n", "12");
        Assert.True(r.ExitCode == 0, r.Out + r.Error);
        Assert.Contains("model " + Fixtures.Stories260K, r.Out, StringComparison.Ordinal);
        Assert.Contains("no routing", r.Out, StringComparison.Ordinal);
        Assert.Contains("egress: 0 connections allowed", r.Out, StringComparison.Ordinal);
        Assert.Contains("audit: chain intact", r.Out, StringComparison.Ordinal);
        Assert.Contains("unknown domain 'nope'", r.Out, StringComparison.Ordinal);
        var answer = r.Out.Split(">>> ")[1];
        Assert.False(string.IsNullOrWhiteSpace(answer));
    }

    [Fact]
    public async Task Ps_lists_the_models_a_running_server_holds()
    {
        var (config, errors) = HearthConfigLoader.CheckText("models: { keep_alive: 10m }", environment: _env);
        Assert.Empty(errors);
        using var runtime = HearthRuntime.Create(config);
        await using var server = await HearthServer.StartAsync(runtime, new HearthServerOptions { Port = 0 });
        var url = server.Address.ToString();

        var empty = await CliRunner.RunWithAsync(_env, null, "ps", "--url", url);
        Assert.True(empty.ExitCode == 0, empty.Error);
        Assert.Contains("no models loaded", empty.Out, StringComparison.Ordinal);

        using (var http = new HttpClient { BaseAddress = server.Address })
        {
            using var load = await http.PostAsync("/api/generate", new StringContent($"{{\"model\":\"{Fixtures.Stories260K}\"}}"));
            Assert.True(load.IsSuccessStatusCode, await load.Content.ReadAsStringAsync());
        }

        var listed = await CliRunner.RunWithAsync(_env, null, "ps", "--url", url);
        Assert.True(listed.ExitCode == 0, listed.Error);
        Assert.Contains("stories260K.gguf", listed.Out, StringComparison.Ordinal);
        var remote = await CliRunner.RunWithAsync(_env, null, "ps", "--url", "http://models.example.invalid:11435");
        Assert.Equal(1, remote.ExitCode);
        Assert.Contains("loopback", remote.Error, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Home, recursive: true);
        }
        catch (IOException)
        {
            // Already gone, or a file still open: a temp directory, left for the OS.
        }
    }
}
