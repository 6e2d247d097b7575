using System.Text.Json;
using Hearth.Tests.Shared;

namespace Hearth.Cli.Tests;

public class InspectCommandTests
{
    public static TheoryData<string> ModelFixtures() =>
    [
        .. Fixtures.AllGguf().Where(f => File.Exists(Fixtures.File(Path.ChangeExtension(f, ".json").Split('/'))))
    ];

    [Fact]
    public async Task ASplitModelSaysWhichPartAndWhatTheOthersHold()
    {
        var dir = Directory.CreateTempSubdirectory("hearth-inspect-split-").FullName;
        try
        {
            var parts = SplitGguf.Write(Fixtures.Stories260K, dir, "stories", 3);
            int total;
            long bytes;
            using (var whole = Hearth.Gguf.GgufFile.Open(Fixtures.Stories260K))
                (total, bytes) = (whole.Tensors.Count, whole.Tensors.Sum(t => t.ByteSize));
            var r = await CliRunner.RunAsync("inspect", parts[0], "--json");
            Assert.True(r.ExitCode == 0, r.Error);
            var root = JsonDocument.Parse(r.Out).RootElement;
            var split = root.GetProperty("split");
            Assert.Equal((1, 3), (split.GetProperty("part").GetInt32(), split.GetProperty("count").GetInt32()));
            Assert.Equal(total, root.GetProperty("tensor_count").GetInt32() + split.GetProperty("other_tensors").GetInt32());
            Assert.Equal(bytes, root.GetProperty("tensor_bytes").GetInt64() + split.GetProperty("other_bytes").GetInt64());
            Assert.Equal(parts.Skip(1), split.GetProperty("other_files").EnumerateArray().Select(f => f.GetString()));

            var text = await CliRunner.RunAsync("inspect", parts[1]);
            Assert.Contains("part 2 of 3", text.Out, StringComparison.Ordinal);
            var plain = await CliRunner.RunAsync("inspect", Fixtures.Stories260K, "--json");
            Assert.Equal(JsonValueKind.Null, JsonDocument.Parse(plain.Out).RootElement.GetProperty("split").ValueKind);

            File.Delete(parts[2]);
            var missing = await CliRunner.RunAsync("inspect", parts[0]);
            Assert.NotEqual(0, missing.ExitCode);
            Assert.Contains("part 3 of 3", missing.Error, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [MemberData(nameof(ModelFixtures))]
    public async Task JsonReportsWhatLlamaCppReports(string relative)
    {
        var path = Fixtures.File(relative.Split('/'));
        var r = await CliRunner.RunAsync("inspect", path, "--json", "--tensors");
        Assert.Equal(0, r.ExitCode);
        Assert.Equal("", r.Error);
        using var report = JsonDocument.Parse(r.Out);
        using var reference = JsonDocument.Parse(File.ReadAllText(Path.ChangeExtension(path, ".json")));
        var model = reference.RootElement.GetProperty("model");
        var root = report.RootElement;
        Assert.Equal(model.GetProperty("arch").GetString(), root.GetProperty("architecture").GetString());
        Assert.Equal(model.GetProperty("n_params").GetInt64(), root.GetProperty("parameters").GetInt64());
        Assert.Equal(model.GetProperty("n_layer").GetInt64(), root.GetProperty("block_count").GetInt64());
        Assert.Equal(model.GetProperty("n_head").GetInt64(), root.GetProperty("head_count").GetInt64());
        Assert.Equal(model.GetProperty("n_head_kv").GetInt64(), root.GetProperty("head_count_kv").GetInt64());
        Assert.Equal(model.GetProperty("n_vocab").GetInt64(), root.GetProperty("vocab_size").GetInt64());
        Assert.Equal(model.GetProperty("size_bytes").GetInt64(), root.GetProperty("tensor_bytes").GetInt64());
        Assert.Equal(reference.RootElement.GetProperty("model_size_bytes").GetInt64(), root.GetProperty("file_size").GetInt64());
        var tensors = root.GetProperty("tensors").EnumerateArray().ToList();
        Assert.Equal(root.GetProperty("tensor_count").GetInt32(), tensors.Count);
        Assert.Equal(model.GetProperty("n_params").GetInt64(),
            tensors.Sum(t => t.GetProperty("shape").EnumerateArray().Aggregate(1L, (a, d) => a * d.GetInt64())));
        var shares = root.GetProperty("quantization").EnumerateArray().Sum(q => q.GetProperty("share").GetDouble());
        Assert.InRange(shares, 0.9999, 1.0001);
    }

    // Facts stated in tests/fixtures/README.md.
    [Theory]
    [InlineData("models/stories260K.gguf", "llama", 48, 8, "token_embd.weight", new long[] { 64, 512 }, "f32")]
    [InlineData("llama-spm/llama-spm-Q4_K_M.gguf", "llama", 20, 16, "blk.0.ffn_down.weight", new long[] { 256, 64 }, "q4_K")]
    [InlineData("llama-spm/llama-spm-Q4_K_M.gguf", "llama", 20, 16, "blk.1.ffn_down.weight", new long[] { 256, 64 }, "q6_K")]
    [InlineData("qwen3/qwen3-F32_embQ4_0.gguf", "qwen3", 0, 32, "blk.0.attn_q.weight", new long[] { 64, 128 }, "f32")]
    [InlineData("qwen2/qwen2-F32_embQ4_0.gguf", "qwen2", 0, 16, "blk.0.attn_q.bias", new long[] { 64 }, "f32")]
    [InlineData("llama-bpe/llama-bpe-F32_embQ4_0_outQ4_0.gguf", "llama", 0, 16, "output.weight", new long[] { 64, 128256 }, "q4_0")]
    public async Task JsonMatchesTheFixturesReadme(string relative, string arch, int tensorCount, int headDim, string tensor, long[] shape, string type)
    {
        var r = await CliRunner.RunAsync("inspect", Fixtures.File(relative.Split('/')), "--json", "--tensors");
        Assert.Equal(0, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Out);
        var root = doc.RootElement;
        Assert.Equal(arch, root.GetProperty("architecture").GetString());
        if (tensorCount > 0)
            Assert.Equal(tensorCount, root.GetProperty("tensor_count").GetInt32());
        Assert.Equal(headDim, root.GetProperty("head_dim").GetInt32());
        var t = root.GetProperty("tensors").EnumerateArray().Single(x => x.GetProperty("name").GetString() == tensor);
        Assert.Equal(shape, t.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()));
        Assert.Equal(type, t.GetProperty("type").GetString());
    }

    [Fact]
    public async Task HumanOutputShowsTheEssentials()
    {
        var r = await CliRunner.RunAsync("inspect", Fixtures.Stories260K);
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("architecture", r.Out);
        Assert.Contains("llama", r.Out);
        Assert.Contains("292.8K in 48 tensors", r.Out);
        Assert.Contains("SentencePiece", r.Out);
        Assert.Contains("8 / 4", r.Out);
        Assert.DoesNotContain("token_embd.weight", r.Out);

        var withTensors = await CliRunner.RunAsync("inspect", Fixtures.Stories260K, "--tensors");
        Assert.Contains("token_embd.weight", withTensors.Out);
        Assert.Contains("[64, 512]", withTensors.Out);
    }

    [Fact]
    public async Task MemoryEstimateFollowsContext()
    {
        var r = await CliRunner.RunAsync("inspect", Fixtures.Stories260K, "--json", "--context", "512");
        using var doc = JsonDocument.Parse(r.Out);
        var memory = doc.RootElement.GetProperty("memory");
        Assert.Equal(512, memory.GetProperty("context").GetInt64());
        // 5 layers x 512 positions x 4 kv heads x (8 + 8) dims x 2 bytes.
        Assert.Equal(5L * 512 * 4 * 16 * 2, memory.GetProperty("kv_cache_bytes").GetInt64());
        Assert.Equal(memory.GetProperty("weights_bytes").GetInt64() + memory.GetProperty("kv_cache_bytes").GetInt64(),
            memory.GetProperty("total_bytes").GetInt64());
    }

    [Fact]
    public async Task MalformedFileIsOneLineWithOffset()
    {
        var path = Path.Combine(Path.GetTempPath(), $"hearth-cli-{Guid.NewGuid():N}.gguf");
        var bytes = File.ReadAllBytes(Fixtures.Stories260K)[..5000];
        File.WriteAllBytes(path, bytes);
        try
        {
            var r = await CliRunner.RunAsync("inspect", path);
            Assert.Equal(1, r.ExitCode);
            var lines = r.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Single(lines);
            Assert.Contains(path, r.Error);
            Assert.Contains("byte offset", r.Error);
            Assert.DoesNotContain(" at Hearth.", r.Error);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task MissingFileAndUsageErrors()
    {
        var missing = await CliRunner.RunAsync("inspect", "/nonexistent/model.gguf");
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("file not found", missing.Error);

        var usage = await CliRunner.RunAsync("inspect");
        Assert.Equal(2, usage.ExitCode);

        var badContext = await CliRunner.RunAsync("inspect", Fixtures.Stories260K, "--context", "0");
        Assert.Equal(2, badContext.ExitCode);
        Assert.Contains("--context", badContext.Error);
    }
}

public class RunCommandTests
{
    [Fact]
    public async Task RawGreedyRunPrintsLlamaCppText()
    {
        var r = await CliRunner.RunAsync("run", "--model", Fixtures.Stories260K, "--raw", "--temperature", "0", "-n", "48", "--threads", "1", "Once upon a time");
        Assert.Equal(0, r.ExitCode);
        Assert.Equal(", there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it,", r.Out.TrimEnd('\n'));
    }

    [Fact]
    public async Task JsonRunReportsTokensAndTimings()
    {
        var r = await CliRunner.RunAsync("run", "--model", Fixtures.Stories260K, "--raw", "--temperature", "0", "-n", "8", "--json", "Once upon a time");
        Assert.Equal(0, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Out);
        Assert.Equal(8, doc.RootElement.GetProperty("tokens").GetArrayLength());
        Assert.Equal(1, doc.RootElement.GetProperty("prompt_tokens")[0].GetInt32()); // BOS
        Assert.Equal("length", doc.RootElement.GetProperty("stop_reason").GetString());
        Assert.StartsWith(", there was", doc.RootElement.GetProperty("text").GetString());
        Assert.True(doc.RootElement.GetProperty("timings").GetProperty("generation_tokens_per_second").GetDouble() > 0);
    }

    [Fact]
    public async Task FormatJsonRunsInJsonModeOnTheEngineAndThroughTheRuntime()
    {
        // The same greedy run as above, in JSON mode: the story now opens a JSON object (the first key is its text).
        var direct = await CliRunner.RunAsync("run", "--model", Fixtures.Stories260K, "--raw", "--temperature", "0", "-n", "12", "--format", "json", "--json", "Once upon a time");
        Assert.True(direct.ExitCode == 0, direct.Error);
        var text = JsonDocument.Parse(direct.Out).RootElement.GetProperty("text").GetString()!;
        Assert.StartsWith("{ \"", text, StringComparison.Ordinal);

        var env = CliRunner.Hermetic();
        try
        {
            Assert.Equal(0, (await CliRunner.RunWithAsync(env, null, "pull", Fixtures.Stories260K, "--name", "stories:260k")).ExitCode);
            var runtime = await CliRunner.RunWithAsync(env, null, "run", "--model", "stories:260k", "--raw", "--temperature", "0", "-n", "12", "--format", "json", "Once upon a time");
            Assert.True(runtime.ExitCode == 0, runtime.Error);
            Assert.Equal(text, runtime.Out.TrimEnd('\n'));
        }
        finally
        {
            if (Directory.Exists((string)env["HEARTH_HOME"]!))
                Directory.Delete((string)env["HEARTH_HOME"]!, recursive: true);
        }

        Assert.Equal(2, (await CliRunner.RunAsync("run", "--model", Fixtures.Stories260K, "--format", "yaml", "x")).ExitCode);
    }

    [Fact]
    public async Task SchemaFileKeepsTheAnswerToTheSchemaAndNamesWhatItCannotEnforce()
    {
        var dir = Directory.CreateTempSubdirectory("hearth-schema-");
        var env = CliRunner.Hermetic();
        try
        {
            var schema = Path.Combine(dir.FullName, "mood.json");
            File.WriteAllText(schema, """{"type": "object", "properties": {"mood": {"enum": ["happy", "sad"]}, "age": {"type": "integer"}}, "required": ["mood", "age"], "additionalProperties": false}""");
            var direct = await CliRunner.RunAsync("run", "--model", Fixtures.Stories260K, "--raw", "--temperature", "0", "-n", "150", "--schema", schema, "Once upon a time");
            Assert.True(direct.ExitCode == 0, direct.Error);
            using (var answer = JsonDocument.Parse(direct.Out))
            {
                Assert.Contains(answer.RootElement.GetProperty("mood").GetString(), new[] { "happy", "sad" });
                Assert.Equal(JsonValueKind.Number, answer.RootElement.GetProperty("age").ValueKind);
                Assert.Equal(2, answer.RootElement.EnumerateObject().Count());
            }

            // Through the runtime (a store name) the same schema gives the same answer.
            Assert.Equal(0, (await CliRunner.RunWithAsync(env, null, "pull", Fixtures.Stories260K, "--name", "stories:260k")).ExitCode);
            var runtime = await CliRunner.RunWithAsync(env, null, "run", "--model", "stories:260k", "--raw", "--temperature", "0", "-n", "150", "--schema", schema, "Once upon a time");
            Assert.True(runtime.ExitCode == 0, runtime.Error);
            Assert.Equal(direct.Out, runtime.Out);

            var bad = Path.Combine(dir.FullName, "bad.json");
            File.WriteAllText(bad, """{"type": "object", "properties": {"a": {"oneOf": [{"type": "string"}, {"type": "string"}]}}}""");
            var refused = await CliRunner.RunAsync("run", "--model", Fixtures.Stories260K, "--schema", bad, "x");
            Assert.Equal(1, refused.ExitCode);
            Assert.Contains("bad.json", refused.Error, StringComparison.Ordinal);
            Assert.Contains("#/properties/a/oneOf", refused.Error, StringComparison.Ordinal);

            File.WriteAllText(bad, "{ not json");
            var broken = await CliRunner.RunAsync("run", "--model", Fixtures.Stories260K, "--schema", bad, "x");
            Assert.Equal(1, broken.ExitCode);
            Assert.Contains("--schema", broken.Error, StringComparison.Ordinal);
        }
        finally
        {
            dir.Delete(recursive: true);
            if (Directory.Exists((string)env["HEARTH_HOME"]!))
                Directory.Delete((string)env["HEARTH_HOME"]!, recursive: true);
        }
    }

    [Fact]
    public async Task BadArgumentsAreUsageErrors()
    {
        Assert.Equal(2, (await CliRunner.RunAsync("run", "--model", Fixtures.Stories260K)).ExitCode); // no prompt
        Assert.Equal(2, (await CliRunner.RunAsync("run", "--model", Fixtures.Stories260K, "--top-p", "2", "x")).ExitCode);
        // Neither a model nor a default: the runtime says what to configure.
        var noModel = await CliRunner.RunAsync("run", "x");
        Assert.Equal(1, noModel.ExitCode);
        Assert.Contains("models.default", noModel.Error, StringComparison.Ordinal);
        var missing = await CliRunner.RunAsync("run", "--model", "/nonexistent.gguf", "x");
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("not found", missing.Error);
        Assert.Equal(2, (await CliRunner.RunAsync("bench")).ExitCode);
    }

    [Fact]
    public async Task DomainRunGoesThroughTheRuntimeWithItsAuditAndRouting()
    {
        var env = CliRunner.Hermetic();
        var home = (string)env["HEARTH_HOME"]!;
        Directory.CreateDirectory(home);
        try
        {
            var config = Path.Combine(home, "hearth.yaml");
            File.WriteAllText(config, $"models: {{ default: '{Fixtures.Stories260K}' }}\nhealthcare: {{ compliance_mode: none }}\ndomains:\n  stories:\n    description: children's stories about a little girl and her ball\n    examples: [ \"tell me a story about a girl\", \"once upon a time\" ]\n");
            var r = await CliRunner.RunAsync(env, "run", "--domain", "stories", "--raw", "--temperature", "0", "-n", "8", "--threads", "1", "--json", "Once upon a time");
            Assert.True(r.ExitCode == 0, r.Out + r.Error);
            var json = JsonDocument.Parse(r.Out).RootElement;
            Assert.Equal(Fixtures.Stories260K, json.GetProperty("model").GetString());
            Assert.Equal("stories", json.GetProperty("domain").GetString());
            Assert.Equal(8, json.GetProperty("output_tokens").GetInt32());
            // Same greedy text as the direct engine run (llama.cpp's continuation).
            Assert.StartsWith(", there was a little girl", json.GetProperty("text").GetString(), StringComparison.Ordinal);
            var audit = Directory.GetFiles(Path.Combine(home, "audit"), "audit-*.jsonl").SelectMany(File.ReadAllLines).Where(l => l.Contains("\"request\"", StringComparison.Ordinal)).ToList();
            Assert.Single(audit);
            Assert.Contains("\"domain\":\"stories\"", audit[0], StringComparison.Ordinal);

            // No model and no domain: the router picks one and says why.
            var routed = await CliRunner.RunAsync(env, "run", "--raw", "--temperature", "0", "-n", "4", "--threads", "1", "--json", "tell me a story about a girl");
            Assert.True(routed.ExitCode == 0, routed.Out + routed.Error);
            var rj = JsonDocument.Parse(routed.Out).RootElement;
            Assert.Equal("stories", rj.GetProperty("domain").GetString());
            Assert.Contains("stories", rj.GetProperty("route").GetString(), StringComparison.Ordinal);

            var unknown = await CliRunner.RunAsync(env, "run", "--domain", "finance", "x");
            Assert.Equal(1, unknown.ExitCode);
            Assert.Contains("unknown domain 'finance'", unknown.Error, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(home, recursive: true);
        }
    }

    [Fact]
    public async Task BenchOnASyntheticShapeReportsBothTests()
    {
        var r = await CliRunner.RunAsync("bench", "--shape", "tiny", "--type", "q8_0", "-p", "16", "-n", "4", "-r", "1", "-t", "1", "--bandwidth-mib", "16", "--json");
        Assert.Equal(0, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Out);
        Assert.True(doc.RootElement.GetProperty("prompt").GetProperty("mean").GetDouble() > 0);
        var tg = doc.RootElement.GetProperty("generation").GetProperty("mean").GetDouble();
        Assert.True(tg > 0);
        Assert.Equal(16, doc.RootElement.GetProperty("prompt_tokens").GetInt32());

        // The generation ceiling: measured bandwidth ÷ weight bytes, and tg as a fraction of it.
        var weights = doc.RootElement.GetProperty("weight_bytes").GetInt64();
        var bw = doc.RootElement.GetProperty("bandwidth");
        var memory = bw.GetProperty("memory_gbs").GetDouble();
        Assert.True(memory > 0);
        var ceiling = bw.GetProperty("ceiling_tokens_per_second").GetDouble();
        Assert.Equal(memory * 1e9 / weights, ceiling, ceiling * 1e-9);
        Assert.Equal(tg / ceiling, bw.GetProperty("ceiling_ratio").GetDouble(), 1e-9);
        Assert.Equal(tg * weights / 1e9, bw.GetProperty("effective_gbs").GetDouble(), 1e-9);

        var skipped = await CliRunner.RunAsync("bench", "--shape", "tiny", "--type", "q8_0", "-p", "0", "-n", "2", "-r", "1", "-t", "1", "--bandwidth-mib", "0", "--json");
        Assert.Equal(0, skipped.ExitCode);
        using var none = JsonDocument.Parse(skipped.Out);
        Assert.Equal(JsonValueKind.Null, none.RootElement.GetProperty("bandwidth").ValueKind);
    }
}
