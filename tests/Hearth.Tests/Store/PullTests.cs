using System.Text.Json;
using Hearth.Privacy;
using Hearth.Store;
using Hearth.Tests.Shared;

namespace Hearth.Tests.Store;

/// <summary>Pulls from plain URLs, Hugging Face and the Ollama registry against a loopback server; resume, 416, redirects, digests.</summary>
public sealed class PullTests : StoreTestBase
{
    [Fact]
    public async Task UrlPullStoresVerifiedBlobAndManifest()
    {
        using var server = new FakeHttpServer(r => r.Path == "/models/stories260K-Q8_0.gguf" ? FakeHttpServer.File(r, Model) : FakeHttpServer.Text(404, "no"));
        var result = await Puller().PullAsync(server.Url + "models/stories260K-Q8_0.gguf");

        Assert.Equal("stories260k:Q8_0", result.Manifest.Reference);
        Assert.Equal(Store.BlobPath(ModelHex), result.ModelPath);
        Assert.Equal(Model, File.ReadAllBytes(result.ModelPath));
        Assert.Equal("llama", result.Manifest.Architecture);
        Assert.Equal(Model.Length, result.Manifest.Size);
        Assert.Equal("url", result.Manifest.Source.Kind);
        Assert.Equal(Model.Length, result.BytesTransferred);
        Assert.True(Store.TryResolve("stories260k:Q8_0", out var path));
        Assert.Equal(result.ModelPath, path);
        Assert.Empty(Directory.EnumerateFiles(Store.TempDirectory, "*.partial"));

        // A second pull of the pinned digest transfers nothing.
        var again = await Puller().PullAsync(server.Url + "models/stories260K-Q8_0.gguf", new PullOptions { Sha256 = ModelHex, Name = "copy:1" });
        Assert.Equal(0, again.BytesTransferred);
        Assert.Equal(Model.Length, server.BodyBytesSent);
    }

    [Fact]
    public async Task PinnedDigestMismatchDeletesDataAndNamesBothDigests()
    {
        using var server = new FakeHttpServer(r => FakeHttpServer.File(r, Model));
        var wrong = new string('a', 64);
        var ex = await Assert.ThrowsAsync<ModelStoreException>(() => Puller().PullAsync(server.Url + "m.gguf", new PullOptions { Sha256 = wrong }));

        Assert.Contains("sha256 mismatch", ex.Message, StringComparison.Ordinal);
        Assert.Contains(wrong, ex.Message, StringComparison.Ordinal);
        Assert.Contains(ModelHex, ex.Message, StringComparison.Ordinal);
        Assert.False(Store.HasBlob(ModelHex));
        Assert.False(Store.HasBlob(wrong));
        Assert.Empty(Directory.EnumerateFiles(Store.TempDirectory, "*.partial"));
        Assert.Empty(Store.ReadAll());
    }

    [Fact]
    public async Task DroppedConnectionResumesWithRangeAfterRestartTransferringOnlyMissingBytes()
    {
        const int cut = 300_000;
        var drop = true;
        using var server = new FakeHttpServer(r => FakeHttpServer.File(r, Model, etag: "\"v1\"", dropAfter: drop ? cut : null));

        // First process: the connection drops mid-body and no retry is allowed; the bytes stay as partial data.
        var ex = await Assert.ThrowsAsync<ModelStoreException>(() => Puller(attempts: 1).PullAsync(server.Url + "m.gguf", new PullOptions { Sha256 = ModelHex }));
        Assert.Contains("run the same pull again to resume", ex.Message, StringComparison.Ordinal);
        var partial = Path.Combine(Store.TempDirectory, ModelHex + ".partial");
        Assert.Equal(cut, new FileInfo(partial).Length);
        Assert.False(Store.HasBlob(ModelHex));
        Assert.Empty(Store.ReadAll());

        // "Restart": a new store object and puller on the same directory.
        drop = false;
        var restarted = new ModelPuller(new ModelStore(Home), Config(), new System.Collections.Hashtable()) { RetryDelay = TimeSpan.Zero };
        var result = await restarted.PullAsync(server.Url + "m.gguf", new PullOptions { Sha256 = ModelHex });

        var requests = server.Requests.ToArray();
        Assert.Equal(2, requests.Length);
        Assert.Null(requests[0].Header("range"));
        Assert.Equal($"bytes={cut}-", requests[1].Header("range"));
        Assert.Equal("\"v1\"", requests[1].Header("if-range"));
        Assert.Equal(Model.Length - cut, result.BytesTransferred);
        Assert.Equal(Model.Length, server.BodyBytesSent);
        Assert.Equal(Model, File.ReadAllBytes(result.ModelPath));
        Assert.False(File.Exists(partial));
    }

    [Fact]
    public async Task DroppedConnectionIsRetriedWithinOnePull()
    {
        var count = 0;
        using var server = new FakeHttpServer(r => FakeHttpServer.File(r, Model, dropAfter: Interlocked.Increment(ref count) == 1 ? 100_000 : null));
        var result = await Puller().PullAsync(server.Url + "x/stories.gguf");

        Assert.Equal(Model.Length, result.BytesTransferred);
        Assert.Equal("bytes=100000-", server.Requests.ToArray()[1].Header("range"));
        Assert.Equal(ModelHex, result.Downloads[0].Hex);
    }

    [Fact]
    public async Task CompletePartialAnswered416IsVerifiedWithoutTransfer()
    {
        Directory.CreateDirectory(Store.TempDirectory);
        File.WriteAllBytes(Path.Combine(Store.TempDirectory, ModelHex + ".partial"), Model);
        using var server = new FakeHttpServer(r => FakeHttpServer.File(r, Model));
        var result = await Puller().PullAsync(server.Url + "m.gguf", new PullOptions { Sha256 = ModelHex });

        Assert.Equal($"bytes={Model.Length}-", Assert.Single(server.Requests).Header("range"));
        Assert.Equal(0, result.BytesTransferred);
        Assert.Equal(0, server.BodyBytesSent);
        Assert.True(Store.HasBlob(ModelHex));
    }

    [Fact]
    public async Task PartialLongerThanResourceIsDiscardedAfter416()
    {
        Directory.CreateDirectory(Store.TempDirectory);
        using var server = new FakeHttpServer(r => FakeHttpServer.File(r, Model));
        var url = new Uri(server.Url, "m.gguf");
        var partialKey = "url-" + FakeHttpServer.Sha256(System.Text.Encoding.UTF8.GetBytes(url.AbsoluteUri));
        File.WriteAllBytes(Path.Combine(Store.TempDirectory, partialKey + ".partial"), [.. Model, .. new byte[10]]);

        var result = await Puller().PullAsync(url.ToString());

        var requests = server.Requests.ToArray();
        Assert.Equal($"bytes={Model.Length + 10}-", requests[0].Header("range"));
        Assert.Null(requests[1].Header("range"));
        Assert.Equal(ModelHex, result.Downloads[0].Hex);
    }

    [Fact]
    public async Task RedirectOnAllowedHostIsFollowedAndOtherHostIsRefused()
    {
        using var other = new FakeHttpServer(r => FakeHttpServer.File(r, Model));
        using var server = new FakeHttpServer(r => r.Path switch
        {
            "/a.gguf" => FakeHttpServer.Redirect("/b/real.gguf"),
            "/b/real.gguf" => FakeHttpServer.File(r, Model),
            _ => FakeHttpServer.Redirect(other.Url + "evil.gguf", 307),
        });

        var ok = await Puller().PullAsync(server.Url + "a.gguf");
        Assert.Equal(ModelHex, ok.Downloads[0].Hex);
        Assert.Equal(new[] { "/a.gguf", "/b/real.gguf" }, server.Requests.Select(r => r.Path));

        await Assert.ThrowsAsync<EgressDeniedException>(() => Puller().PullAsync(server.Url + "elsewhere.gguf"));
        Assert.Empty(other.Requests);
    }

    [Fact]
    public async Task ConcurrentPullsOfOneBlobTransferItOnce()
    {
        using var server = new FakeHttpServer(r => FakeHttpServer.File(r, Model, chunkDelay: TimeSpan.FromMilliseconds(20)));
        var pulls = Enumerable.Range(0, 3).Select(i => Task.Run(() =>
            new ModelPuller(new ModelStore(Home), Config(), new System.Collections.Hashtable()) { RetryDelay = TimeSpan.Zero }
                .PullAsync(server.Url + "m.gguf", new PullOptions { Sha256 = ModelHex, Name = $"m{i}:x" }))).ToArray();
        var results = await Task.WhenAll(pulls);

        Assert.Equal(Model.Length, server.BodyBytesSent);
        Assert.Single(server.Requests);
        Assert.Single(results, r => r.BytesTransferred == Model.Length);
        Assert.All(results, r => Assert.Equal(Store.BlobPath(ModelHex), r.ModelPath));
        Assert.Equal(Model, File.ReadAllBytes(Store.BlobPath(ModelHex)));
        Assert.Equal(3, Store.ReadAll().Count);
        Assert.Single(Store.EnumerateBlobs());
    }

    [Fact]
    public async Task HuggingFacePullPicksQuantFollowsCdnRedirectAndVerifiesLfsDigest()
    {
        var api = JsonSerializer.Serialize(new
        {
            id = "org/tiny-GGUF",
            siblings = new object[]
            {
                new { rfilename = "README.md" },
                new { rfilename = "tiny-Q4_K_M.gguf", lfs = new { sha256 = new string('b', 64), size = 5 } },
                new { rfilename = "tiny-Q8_0.gguf", lfs = new { sha256 = ModelHex, size = Model.Length } },
                new { rfilename = "mmproj-tiny-Q8_0.gguf", lfs = new { sha256 = new string('c', 64), size = 5 } },
            },
        });
        using var server = new FakeHttpServer(r => r.Path switch
        {
            "/api/models/org/tiny-GGUF?blobs=true" => FakeHttpServer.Text(200, api),
            "/org/tiny-GGUF/resolve/main/tiny-Q8_0.gguf" => new FakeHttpServer.Response
            {
                Status = 302,
                Headers = { ["Location"] = "/cdn/blob-q8", ["X-Linked-Etag"] = $"\"{ModelHex}\"" },
            },
            "/cdn/blob-q8" => FakeHttpServer.File(r, Model),
            _ => FakeHttpServer.Text(404, "{}"),
        });

        var env = new System.Collections.Hashtable { ["HF_TOKEN"] = "hf_test" };
        var result = await Puller(server.Url, env: env).PullAsync("hf.co/org/tiny-GGUF:q8_0");

        Assert.Equal("hf.co/org/tiny-GGUF:Q8_0", result.Manifest.Reference);
        Assert.Equal("huggingface", result.Manifest.Source.Kind);
        Assert.Equal("tiny-Q8_0.gguf", Assert.Single(result.Manifest.Layers).FileName);
        Assert.Equal(Model, File.ReadAllBytes(result.ModelPath));
        var requests = server.Requests.ToArray();
        Assert.Equal("Bearer hf_test", requests[0].Header("authorization"));
        Assert.Equal("Bearer hf_test", requests[1].Header("authorization"));
        Assert.True(Store.TryResolve("hf.co/org/tiny-GGUF:Q8_0", out _));
    }

    [Fact]
    public async Task HuggingFaceDigestMismatchFromApiIsRefused()
    {
        var api = JsonSerializer.Serialize(new { siblings = new object[] { new { rfilename = "only.gguf", lfs = new { sha256 = new string('d', 64), size = Model.Length } } } });
        using var server = new FakeHttpServer(r => r.Path.StartsWith("/api/", StringComparison.Ordinal) ? FakeHttpServer.Text(200, api) : FakeHttpServer.File(r, Model));
        var ex = await Assert.ThrowsAsync<ModelStoreException>(() => Puller(server.Url).PullAsync("hf.co/org/repo"));
        Assert.Contains("sha256 mismatch", ex.Message, StringComparison.Ordinal);
        Assert.False(Store.HasBlob(ModelHex));
    }

    [Fact]
    public async Task HuggingFaceSplitFilesArePulledTogetherInOrder()
    {
        var part2 = new byte[1000];
        new Random(5).NextBytes(part2);
        var api = JsonSerializer.Serialize(new
        {
            siblings = new object[]
            {
                new { rfilename = "big/big-Q4_0-00002-of-00002.gguf", lfs = new { sha256 = FakeHttpServer.Sha256(part2), size = part2.Length } },
                new { rfilename = "big/big-Q4_0-00001-of-00002.gguf", lfs = new { sha256 = ModelHex, size = Model.Length } },
                new { rfilename = "big-F16.gguf", lfs = new { sha256 = new string('e', 64), size = 1 } },
            },
        });
        using var server = new FakeHttpServer(r => r.Path switch
        {
            "/api/models/org/big?blobs=true" => FakeHttpServer.Text(200, api),
            "/org/big/resolve/main/big/big-Q4_0-00001-of-00002.gguf" => FakeHttpServer.File(r, Model),
            "/org/big/resolve/main/big/big-Q4_0-00002-of-00002.gguf" => FakeHttpServer.File(r, part2),
            _ => FakeHttpServer.Text(404, "{}"),
        });

        var result = await Puller(server.Url).PullAsync("hf.co/org/big:Q4_0");

        Assert.Equal(new[] { "big/big-Q4_0-00001-of-00002.gguf", "big/big-Q4_0-00002-of-00002.gguf" }, result.Manifest.Layers.Select(l => l.FileName));
        Assert.Equal(Model.Length + part2.Length, result.Manifest.Size);
        Assert.True(Store.HasBlob(FakeHttpServer.Sha256(part2)));
    }

    [Fact]
    public async Task APulledSplitModelResolvesToLinkedPartsTheEngineLoads()
    {
        // Real gguf-split parts of stories260K from a loopback Hub: the store keeps them as digest-named blobs, and
        // resolving the model gives the engine PREFIX-0000i-of-00003.gguf names (links, no copy) for every part.
        var splitDir = Path.Combine(Temp, "split-src");
        Directory.CreateDirectory(splitDir);
        var parts = SplitGguf.Write(Fixtures.Stories260K, splitDir, "stories-F32", 3).Select(File.ReadAllBytes).ToArray();
        var names = Enumerable.Range(1, 3).Select(i => $"stories-F32-{i:D5}-of-00003.gguf").ToArray();
        var api = JsonSerializer.Serialize(new
        {
            siblings = names.Select((n, i) => new { rfilename = n, lfs = new { sha256 = FakeHttpServer.Sha256(parts[i]), size = parts[i].Length } }).ToArray(),
        });
        using var server = new FakeHttpServer(r =>
        {
            if (r.Path == "/api/models/org/stories?blobs=true")
                return FakeHttpServer.Text(200, api);
            var i = Array.FindIndex(names, n => r.Path == "/org/stories/resolve/main/" + n);
            return i >= 0 ? FakeHttpServer.File(r, parts[i]) : FakeHttpServer.Text(404, "{}");
        });
        var result = await Puller(server.Url).PullAsync("hf.co/org/stories", new PullOptions { Name = "split:test" });
        Assert.Equal(3, result.Manifest.ModelLayers.Count());

        Assert.True(Store.TryResolve("split:test", out var path));
        Assert.Equal(names[0], Path.GetFileName(path));
        Assert.StartsWith(Store.SplitsDirectory, path, StringComparison.Ordinal);
        for (var i = 0; i < 3; i++)
        {
            var link = Path.Combine(Path.GetDirectoryName(path)!, names[i]);
            Assert.True(FileLinks.SameFile(link, Store.BlobPath(FakeHttpServer.Sha256(parts[i]))), $"part {i + 1} should be the blob itself");
        }

        string Generate(string file)
        {
            using var client = Hearth.Engine.Generation.EngineChatClient.Open(file, new Hearth.Engine.Generation.EngineOptions { Threads = 1 });
            var g = client.Generator;
            var prompt = g.Tokenizer.Encode("Once upon a time", addSpecial: true, parseSpecial: false);
            return g.Generate(prompt, new Hearth.Engine.Generation.GenerationOptions { MaxTokens = 16 }).Text;
        }
        Assert.Equal(Generate(Fixtures.Stories260K), Generate(path));

        // The links are derived: removed, they come back; a wrong link is replaced; resolving again reuses them.
        Directory.Delete(Store.SplitsDirectory, recursive: true);
        Assert.True(Store.TryResolve("split:test", out var again));
        Assert.Equal(path, again);
        Assert.True(File.Exists(again));
        var second = Path.Combine(Path.GetDirectoryName(path)!, names[1]);
        File.Delete(second);
        File.CreateSymbolicLink(second, Store.BlobPath(FakeHttpServer.Sha256(parts[2]))); // points at part 3
        Assert.True(Store.TryResolve("split:test", out var third));
        Assert.Equal(path, third);
        Assert.True(FileLinks.SameFile(second, Store.BlobPath(FakeHttpServer.Sha256(parts[1]))), "the wrong link should have been rebuilt");

        // gc keeps the links of a model the store has, and removes them with the model.
        Store.CollectGarbage();
        Assert.True(Directory.Exists(Path.GetDirectoryName(path)));
        Store.Remove("split:test");
        Store.CollectGarbage();
        Assert.False(Directory.Exists(Path.GetDirectoryName(path)));
        Assert.False(Store.HasBlob(FakeHttpServer.Sha256(parts[0])));
    }

    [Fact]
    public async Task HuggingFaceAmbiguousOrMissingQuantNamesTheChoices()
    {
        var api = JsonSerializer.Serialize(new { siblings = new object[] { new { rfilename = "a-Q8_0.gguf" }, new { rfilename = "a-Q5_K_S.gguf" } } });
        using var server = new FakeHttpServer(r => FakeHttpServer.Text(200, api));
        var none = await Assert.ThrowsAsync<ModelStoreException>(() => Puller(server.Url).PullAsync("hf.co/org/a"));
        Assert.Contains("a-Q8_0.gguf, a-Q5_K_S.gguf", none.Message, StringComparison.Ordinal);
        var missing = await Assert.ThrowsAsync<ModelStoreException>(() => Puller(server.Url).PullAsync("hf.co/org/a:Q2_K"));
        Assert.Contains("no GGUF file for quantization 'Q2_K'", missing.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OllamaRegistryPullStoresModelLayerAndKeepsTemplateAndParams()
    {
        var template = System.Text.Encoding.UTF8.GetBytes("{{ .Prompt }}");
        var parameters = System.Text.Encoding.UTF8.GetBytes("{\"stop\":[\"</s>\"]}");
        var manifest = JsonSerializer.Serialize(new
        {
            schemaVersion = 2,
            mediaType = "application/vnd.docker.distribution.manifest.v2+json",
            config = new { mediaType = "application/vnd.docker.container.image.v1+json", digest = "sha256:" + new string('0', 64), size = 2 },
            layers = new object[]
            {
                new { mediaType = "application/vnd.ollama.image.model", digest = "sha256:" + ModelHex, size = Model.Length },
                new { mediaType = "application/vnd.ollama.image.template", digest = "sha256:" + FakeHttpServer.Sha256(template), size = template.Length },
                new { mediaType = "application/vnd.ollama.image.params", digest = "sha256:" + FakeHttpServer.Sha256(parameters), size = parameters.Length },
            },
        });
        using var server = new FakeHttpServer(r => r.Path switch
        {
            "/v2/library/stories/manifests/260k" => FakeHttpServer.Text(200, manifest),
            var p when p == "/v2/library/stories/blobs/sha256:" + ModelHex => FakeHttpServer.File(r, Model),
            var p when p == "/v2/library/stories/blobs/sha256:" + FakeHttpServer.Sha256(template) => FakeHttpServer.File(r, template),
            var p when p == "/v2/library/stories/blobs/sha256:" + FakeHttpServer.Sha256(parameters) => FakeHttpServer.File(r, parameters),
            _ => FakeHttpServer.Text(404, "{\"errors\":[]}"),
        });

        var result = await Puller(server.Url).PullAsync("ollama.com/library/stories:260k");

        Assert.Equal("stories:260k", result.Manifest.Reference);
        Assert.Equal("{{ .Prompt }}", result.Manifest.Metadata["template"]);
        Assert.Equal("{\"stop\":[\"</s>\"]}", result.Manifest.Metadata["params"]);
        Assert.Equal(Store.BlobPath(ModelHex), result.ModelPath);
        Assert.Contains("manifest.v2+json", server.Requests.First().Header("accept"), StringComparison.Ordinal);
        Assert.True(Store.TryResolve("stories:260k", out _));

        var missing = await Assert.ThrowsAsync<ModelStoreException>(() => Puller(server.Url).PullAsync("ollama.com/library/nothing:1b"));
        Assert.Contains("404", missing.Message, StringComparison.Ordinal);
        Assert.Contains("library/nothing", missing.Message, StringComparison.Ordinal);
    }
}
