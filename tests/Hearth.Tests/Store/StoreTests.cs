using System.Text.Json;
using Hearth.Store;

namespace Hearth.Tests.Store;

/// <summary>References, local pulls, import from each foreign layout, rm + gc, verify, du.</summary>
public sealed class StoreTests : StoreTestBase
{
    [Theory]
    [InlineData("stories", "stories", "latest", "library/stories/latest.json")]
    [InlineData("stories:260k", "stories", "260k", "library/stories/260k.json")]
    [InlineData("user/model:q8", "user/model", "q8", "user/model/q8.json")]
    [InlineData("hf.co/org/repo:Q4_K_M", "hf.co/org/repo", "Q4_K_M", "hf.co/org/repo/Q4_K_M.json")]
    public void ReferencesParseWithDefaultTagAndLibraryNamespace(string text, string name, string tag, string manifest)
    {
        var r = ModelReference.Parse(text);
        Assert.Equal(name, r.Name);
        Assert.Equal(tag, r.Tag);
        Assert.Equal(manifest, string.Join('/', r.ManifestPathParts));
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("a/../b", "'..'")]
    [InlineData("a:b c", "tag 'b c'")]
    [InlineData("/abs", "empty name segment")]
    public void BadReferencesNameTheProblem(string text, string expected)
    {
        var ex = Assert.Throws<ModelStoreException>(() => ModelReference.Parse(text));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Llama-3.2-1B-Instruct-Q4_K_M.gguf", "llama-3.2-1b-instruct", "Q4_K_M")]
    [InlineData("qwen2.5-0.5b-instruct-iq4_xs.gguf", "qwen2.5-0.5b-instruct", "IQ4_XS")]
    [InlineData("big-Q8_0-00001-of-00003.gguf", "big", "Q8_0")]
    [InlineData("stories260K.gguf", "stories260k", "latest")]
    public void FileNamesGiveNameAndQuantTag(string file, string name, string tag)
        => Assert.Equal((name, tag), ModelReference.FromFileName(file));

    [Fact]
    public async Task LocalPullHardLinksOnTheSameFileSystemAndResolvesWithoutCopy()
    {
        var source = CopyModel("src/stories-Q8_0.gguf");
        var result = await Puller().PullAsync(source, new PullOptions { Name = "stories:260k" });

        Assert.Equal(Store.BlobPath(ModelHex), result.ModelPath);
        Assert.True(FileLinks.SameFile(source, result.ModelPath), "the blob should be a hard link to the pulled file");
        Assert.True(Store.TryResolve("stories:260k", out var path));
        Assert.Equal(result.ModelPath, path);
        Assert.True(Store.TryResolve("library/stories:260k", out _));
        Assert.True(Store.TryResolve("STORIES:260K", out _));
        Assert.False(Store.TryResolve("stories:other", out _));
        Assert.Equal("file", result.Manifest.Source.Kind);
    }

    [Fact]
    public async Task ResolveFindsUniqueSuffixAndRejectsAmbiguousOne()
    {
        var source = CopyModel("m.gguf");
        await Puller().PullAsync(source, new PullOptions { Name = "hf.co/a/tiny:Q8_0" });
        Assert.True(Store.TryResolve("tiny:Q8_0", out _));
        await Puller().PullAsync(source, new PullOptions { Name = "hf.co/b/tiny:Q8_0" });
        var ex = Assert.Throws<ModelStoreException>(() => Store.TryResolve("tiny:Q8_0", out _));
        Assert.Contains("hf.co/a/tiny:Q8_0", ex.Message, StringComparison.Ordinal);
        Assert.Contains("hf.co/b/tiny:Q8_0", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NonGgufPullIsRefusedNamingTheFile()
    {
        var path = Path.Combine(Temp, "notes.gguf");
        File.WriteAllText(path, "not a model");
        var ex = await Assert.ThrowsAsync<ModelStoreException>(() => Puller().PullAsync(path));
        Assert.Contains("notes.gguf is not a usable GGUF model", ex.Message, StringComparison.Ordinal);
        Assert.Empty(Store.ReadAll());
    }

    [Fact]
    public async Task OllamaStoreImportHardLinksTheModelBlobAndKeepsTemplate()
    {
        var root = Path.Combine(Temp, "ollama", "models");
        var blob = CopyModel($"ollama/models/blobs/sha256-{ModelHex}");
        var template = "{{ .System }} {{ .Prompt }}"u8.ToArray();
        var templateHex = FakeHttpServer.Sha256(template);
        File.WriteAllBytes(Path.Combine(root, "blobs", "sha256-" + templateHex), template);
        var manifest = JsonSerializer.Serialize(new
        {
            schemaVersion = 2,
            layers = new object[]
            {
                new { mediaType = "application/vnd.ollama.image.model", digest = "sha256:" + ModelHex, size = Model.Length },
                new { mediaType = "application/vnd.ollama.image.template", digest = "sha256:" + templateHex, size = template.Length },
            },
        });
        var dir = Path.Combine(root, "manifests", "registry.ollama.ai", "library", "stories");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "260k"), manifest);
        Assert.Equal(ImportLayout.Ollama, ModelImporter.Detect(root));

        var result = await new ModelImporter(Store).ImportAsync(ImportLayout.Ollama, root);

        var model = Assert.Single(result.Imported);
        Assert.Equal("stories:260k", model.Reference);
        Assert.Equal(AddMode.HardLinked, model.Mode);
        Assert.True(FileLinks.SameFile(blob, Store.BlobPath(ModelHex)));
        Assert.Equal("{{ .System }} {{ .Prompt }}", Store.Find("stories:260k")!.Value.Manifest.Metadata["template"]);
    }

    [Fact]
    public async Task HuggingFaceCacheImportFollowsSnapshotSymlinkToTheBlob()
    {
        var hub = Path.Combine(Temp, "hf", "hub");
        var repo = Path.Combine(hub, "models--org--tiny-GGUF");
        var blob = CopyModel($"hf/hub/models--org--tiny-GGUF/blobs/{ModelHex}");
        var snapshot = Path.Combine(repo, "snapshots", "0123abcd");
        Directory.CreateDirectory(snapshot);
        File.CreateSymbolicLink(Path.Combine(snapshot, "tiny-Q8_0.gguf"), Path.Combine("..", "..", "blobs", ModelHex));
        Assert.Equal(ImportLayout.HuggingFace, ModelImporter.Detect(Path.Combine(Temp, "hf")));

        var result = await new ModelImporter(Store).ImportAsync(ImportLayout.HuggingFace, Path.Combine(Temp, "hf"));

        var model = Assert.Single(result.Imported);
        Assert.Equal("hf.co/org/tiny-GGUF:Q8_0", model.Reference);
        Assert.Equal(AddMode.HardLinked, model.Mode);
        Assert.True(FileLinks.SameFile(blob, Store.BlobPath(ModelHex)));
        Assert.False(new FileInfo(Store.BlobPath(ModelHex)).LinkTarget is not null, "the blob must be the data, not a symlink");
    }

    [Fact]
    public async Task LmStudioImportNamesPublisherRepoAndQuantAndSharesIdenticalContent()
    {
        var root = Path.Combine(Temp, "lmstudio", "models");
        var a = CopyModel("lmstudio/models/lmstudio-community/Tiny-GGUF/Tiny-Q8_0.gguf");
        CopyModel("lmstudio/models/other/Tiny-GGUF/tiny-q8_0.gguf");
        CopyModel("lmstudio/models/lmstudio-community/Tiny-GGUF/mmproj-Tiny-F16.gguf");

        var result = await new ModelImporter(Store).ImportAsync(ImportLayout.LmStudio, root);

        Assert.Equal(new[] { "lmstudio-community/tiny-gguf:Q8_0", "other/tiny-gguf:Q8_0" }, result.Imported.Select(m => m.Reference).Order(StringComparer.Ordinal));
        Assert.Contains(result.Imported, m => m.Mode == AddMode.HardLinked);
        Assert.Contains(result.Imported, m => m.Mode == AddMode.AlreadyPresent);
        Assert.Single(Store.EnumerateBlobs());
        Assert.True(FileLinks.SameFile(a, Store.BlobPath(ModelHex)));
    }

    [Fact]
    public async Task FolderImportOnAnotherFileSystemRecordsAVerifiedReference()
    {
        // /dev/shm is a separate tmpfs on Linux: a hard link is impossible, so the store refers to the file in place.
        if (!Directory.Exists("/dev/shm"))
            return;
        var dir = Path.Combine("/dev/shm", "hearth-import-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            var file = Path.Combine(dir, "stories-Q8_0.gguf");
            File.WriteAllBytes(file, Model);
            var result = await new ModelImporter(Store).ImportAsync(ImportLayout.Directory, dir);

            var model = Assert.Single(result.Imported);
            Assert.Equal(AddMode.ExternalReference, model.Mode);
            Assert.Equal("stories:Q8_0", model.Reference);
            Assert.False(Store.HasBlob(ModelHex));
            Assert.True(Store.TryResolve("stories:Q8_0", out var path));
            Assert.Equal(file, path);
            var ok = await Store.VerifyAsync("stories:Q8_0");
            Assert.Equal(VerifyStatus.Ok, Assert.Single(ok).Status);

            // gc never touches external files; a changed external file is reported.
            Store.CollectGarbage();
            Assert.True(File.Exists(file));
            using (var f = new FileStream(file, FileMode.Open, FileAccess.Write))
            {
                f.Position = 100;
                f.WriteByte(0x5A);
            }

            File.SetLastWriteTimeUtc(file, DateTime.UtcNow.AddMinutes(1));
            Assert.Throws<ModelStoreException>(() => Store.TryResolve("stories:Q8_0", out _));
            Assert.Equal(VerifyStatus.Corrupt, Assert.Single(await Store.VerifyAsync("stories:Q8_0")).Status);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task RemoveAndGcReclaimExactlyTheUnreferencedBlobs()
    {
        var other = (byte[])Model.Clone();
        other[^1] ^= 0xFF; // still a valid GGUF (last byte is tensor data), different content
        var otherPath = Path.Combine(Temp, "other.gguf");
        File.WriteAllBytes(otherPath, other);
        var otherHex = FakeHttpServer.Sha256(other);
        var shared = CopyModel("shared.gguf");

        await Puller().PullAsync(shared, new PullOptions { Name = "a:1" });
        await Puller().PullAsync(shared, new PullOptions { Name = "b:1" });
        await Puller().PullAsync(otherPath, new PullOptions { Name = "c:1" });
        Directory.CreateDirectory(Store.BlobsDirectory);
        var stray = new string('f', 64);
        File.WriteAllText(Store.BlobPath(stray), "left over");

        var usage = Store.Usage();
        Assert.Equal(3, usage.BlobCount);
        Assert.Equal(Model.Length * 2L + "left over".Length, usage.BlobBytes);
        Assert.Equal("left over".Length, usage.UnreferencedBytes);
        Assert.Equal(Model.Length, usage.Models.Single(m => m.Reference == "a:1").SharedBytes);
        Assert.Equal(Model.Length, usage.Models.Single(m => m.Reference == "c:1").OwnBytes);

        // a:1 shares its blob with b:1: removing it frees nothing but the stray blob.
        var removeA = Store.Remove("a:1");
        Assert.Equal(new[] { stray }, removeA.Collected!.RemovedBlobs);
        Assert.True(Store.HasBlob(ModelHex));

        var removeC = Store.Remove("c:1");
        Assert.Equal(new[] { otherHex }, removeC.Collected!.RemovedBlobs);
        Assert.Equal(other.Length, removeC.Collected.BytesFreed);
        Assert.True(Store.HasBlob(ModelHex));
        Assert.True(File.Exists(otherPath), "the user's own file survives: only the store's link was removed");

        Assert.Empty(Store.CollectGarbage().RemovedBlobs);
        Store.Remove("b:1");
        Assert.False(Store.HasBlob(ModelHex));
        Assert.Empty(Store.ReadAll());
        Assert.Throws<ModelStoreException>(() => Store.Remove("b:1"));
    }

    [Fact]
    public async Task GcRefusesWhileAPullHoldsTheStore()
    {
        using (await Store.EnterSharedAsync())
        {
            var ex = Assert.Throws<ModelStoreException>(() => Store.CollectGarbage());
            Assert.Contains("in use", ex.Message, StringComparison.Ordinal);
        }

        Assert.Empty(Store.CollectGarbage().RemovedBlobs);
    }

    [Fact]
    public async Task VerifyReportsCorruptAndMissingBlobs()
    {
        using var server = new FakeHttpServer(r => FakeHttpServer.File(r, Model));
        await Puller().PullAsync(server.Url + "m.gguf", new PullOptions { Name = "m:1" });
        Assert.Equal(VerifyStatus.Ok, Assert.Single(await Store.VerifyAsync(null)).Status);

        var blob = Store.BlobPath(ModelHex);
        File.SetAttributes(blob, FileAttributes.Normal);
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(blob, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        using (var f = new FileStream(blob, FileMode.Open, FileAccess.Write))
        {
            f.Position = 1000;
            f.WriteByte(0xEE);
        }

        var bad = Assert.Single(await Store.VerifyAsync("m:1"));
        Assert.Equal(VerifyStatus.Corrupt, bad.Status);
        Assert.Equal(ModelHex, bad.ExpectedHex);
        Assert.NotEqual(ModelHex, bad.ActualHex);

        File.Delete(blob);
        Assert.Equal(VerifyStatus.Missing, Assert.Single(await Store.VerifyAsync("m:1")).Status);
        var ex = Assert.Throws<ModelStoreException>(() => Store.TryResolve("m:1", out _));
        Assert.Contains("missing", ex.Message, StringComparison.Ordinal);
    }
}
