using System.Buffers;
using System.Security.Cryptography;
using System.Text.Json;
using Hearth.Configuration;
using Hearth.Engine.Model;
using Hearth.Gguf;

namespace Hearth.Store;

/// <summary>
/// The content-addressed model store under <c>$HEARTH_HOME</c> (or <c>models.cache_directory</c>):
/// <list type="bullet">
/// <item><c>blobs/sha256-&lt;hex&gt;</c>: immutable model data, named by its verified SHA-256; the same content is stored once.</item>
/// <item><c>manifests/&lt;namespace&gt;/&lt;name&gt;/&lt;tag&gt;.json</c>: what a reference resolves to (<see cref="ModelManifest"/>).</item>
/// <item><c>tmp/</c>: partial downloads (resumable) and their locks; nothing there is ever a final name.</item>
/// <item><c>store.lock</c>: pulls and imports hold it shared; <c>gc</c> holds it exclusively.</item>
/// </list>
/// A reference resolves to a file path (the blob itself, or a verified external file) so the engine maps it in place.
/// </summary>
internal sealed class ModelStore
{
    private const string BlobPrefix = "sha256-";

    public ModelStore(string root)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(root);
        Root = Path.GetFullPath(root);
    }

    /// <summary>The store of a configuration: <c>models.cache_directory</c>, which defaults to <c>$HEARTH_HOME</c>.</summary>
    public static ModelStore Open(HearthConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return new ModelStore(string.IsNullOrEmpty(config.Models.CacheDirectory) ? config.HearthHome : config.Models.CacheDirectory);
    }

    public string Root { get; }

    public string BlobsDirectory => Path.Combine(Root, "blobs");

    public string ManifestsDirectory => Path.Combine(Root, "manifests");

    public string TempDirectory => Path.Combine(Root, "tmp");

    public string LockPath => Path.Combine(Root, "store.lock");

    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>Validates a digest (<c>sha256:hex</c> or bare hex) and returns its lower-case hex.</summary>
    public static string NormalizeHex(string digest)
    {
        ArgumentNullException.ThrowIfNull(digest);
        var hex = digest.StartsWith("sha256:", StringComparison.OrdinalIgnoreCase) ? digest[7..]
            : digest.StartsWith(BlobPrefix, StringComparison.OrdinalIgnoreCase) ? digest[BlobPrefix.Length..] : digest;
        if (hex.Length != 64 || !hex.All(char.IsAsciiHexDigit))
            throw new ModelStoreException($"invalid sha256 digest '{digest}': expected 64 hexadecimal digits");
        return hex.ToLowerInvariant();
    }

    public string BlobPath(string digest) => Path.Combine(BlobsDirectory, BlobPrefix + NormalizeHex(digest));

    public bool HasBlob(string digest) => File.Exists(BlobPath(digest));

    /// <summary>Holds the store lock shared (pulls, imports) so gc cannot collect blobs whose manifest is not written yet.</summary>
    public Task<StoreLock> EnterSharedAsync(CancellationToken cancellationToken = default)
        => StoreLock.AcquireAsync(LockPath, exclusive: false, TimeSpan.FromMinutes(2), cancellationToken);

    // ---- manifests ----

    public string ManifestPath(ModelReference reference)
    {
        ArgumentNullException.ThrowIfNull(reference);
        return Path.Combine([ManifestsDirectory, .. reference.ManifestPathParts]);
    }

    /// <summary>Writes a manifest atomically (temp file, then rename over the old one).</summary>
    public void WriteManifest(ModelManifest manifest)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        var path = ManifestPath(ModelReference.Parse(manifest.Reference));
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temp = path + ".tmp-" + Guid.NewGuid().ToString("N");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write))
            {
                JsonSerializer.Serialize(stream, manifest, StoreJsonContext.Default.ModelManifest);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    public static ModelManifest ReadManifest(string path)
    {
        try
        {
            using var stream = File.OpenRead(path);
            var m = JsonSerializer.Deserialize(stream, StoreJsonContext.Default.ModelManifest)
                ?? throw new ModelStoreException($"manifest {path} is empty");
            if (m.Layers is null || m.Source is null || string.IsNullOrEmpty(m.Reference))
                throw new ModelStoreException($"manifest {path} lacks reference, source or layers");
            return m;
        }
        catch (JsonException ex)
        {
            throw new ModelStoreException($"manifest {path} is not valid JSON: {ex.Message}", ex);
        }
    }

    /// <summary>Every manifest file under <c>manifests/</c> with its content, sorted by reference.</summary>
    public IReadOnlyList<(string Path, ModelManifest Manifest)> ReadAll()
    {
        if (!Directory.Exists(ManifestsDirectory))
            return [];
        return Directory.EnumerateFiles(ManifestsDirectory, "*.json", SearchOption.AllDirectories)
            .Select(p => (p, ReadManifest(p)))
            .OrderBy(x => x.Item2.Reference, StringComparer.OrdinalIgnoreCase)
            .ToList();
    }

    /// <summary>
    /// Finds a model: the exact reference, else the one stored reference that equals it ignoring case, else the one that
    /// ends with it (<c>qwen:0.5b</c> finds <c>ollama.com/library/qwen:0.5b</c>). Null when none; throws when ambiguous.
    /// </summary>
    public (string Path, ModelManifest Manifest)? Find(string reference)
    {
        var r = ModelReference.Parse(reference);
        var exact = ManifestPath(r);
        if (File.Exists(exact))
            return (exact, ReadManifest(exact));
        var all = ReadAll().Select(x => (x.Path, x.Manifest, Ref: ModelReference.TryParse(x.Manifest.Reference, out var p, out _) ? p : null))
            .Where(x => x.Ref is not null)
            .ToList();
        var same = all.Where(x => r.SameAs(x.Ref!)).ToList();
        if (same.Count == 1)
            return (same[0].Path, same[0].Manifest);
        var suffix = all.Where(x => r.IsSuffixOf(x.Ref!)).ToList();
        if (suffix.Count == 1)
            return (suffix[0].Path, suffix[0].Manifest);
        if (suffix.Count > 1)
            throw new ModelStoreException($"model reference '{reference}' is ambiguous: {string.Join(", ", suffix.Select(x => x.Manifest.Reference))}");
        return null;
    }

    /// <summary>
    /// The model file a reference resolves to, without copying: the blob, or the verified external file of an import.
    /// False when the store has no such model. Throws <see cref="ModelStoreException"/> when the model is known but
    /// its data is missing or an external file changed since it was verified.
    /// </summary>
    public bool TryResolve(string reference, out string path)
    {
        path = "";
        if (!ModelReference.TryParse(reference, out _, out _))
            return false;
        if (Find(reference) is not { } found)
            return false;
        var layers = found.Manifest.ModelLayers.ToList();
        if (layers.Count == 0)
            throw new ModelStoreException($"model {found.Manifest.Reference} has no model layer ({found.Path})");
        var paths = layers.Select(l => CheckedLayerPath(found.Manifest, l)).ToList();
        path = paths.Count == 1 ? paths[0] : SplitView(layers, paths);
        return true;
    }

    /// <summary>A model layer's file, checked to be there, whole, and (for an import) unchanged since it was verified.</summary>
    private string CheckedLayerPath(ModelManifest manifest, ManifestLayer layer)
    {
        var path = LayerPath(layer);
        var file = new FileInfo(path);
        if (!file.Exists)
            throw new ModelStoreException($"model {manifest.Reference}: its data {path} is missing; run 'hearth verify {manifest.Reference}' or pull it again");
        if (file.Length != layer.Size)
            throw new ModelStoreException($"model {manifest.Reference}: {path} has {file.Length} bytes, expected {layer.Size}; run 'hearth verify {manifest.Reference}'");
        if (layer.ExternalPath is not null && layer.ExternalModified is { } m && file.LastWriteTimeUtc != m.UtcDateTime)
            throw new ModelStoreException($"model {manifest.Reference}: the imported file {path} changed since it was verified; run 'hearth verify {manifest.Reference}' to check it again");
        return path;
    }

    /// <summary>Folder of derived links (<c>splits/</c>) that give a split model's blobs the part names the engine
    /// finds them by.</summary>
    public string SplitsDirectory => Path.Combine(Root, "splits");

    /// <summary>Folder name of a split model's links: a hash of all its parts' digests, so one set of parts always
    /// maps to one folder and another model sharing the first part cannot disturb it.</summary>
    internal static string SplitKey(IEnumerable<ManifestLayer> layers) =>
        Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(string.Join('\n', layers.Select(l => l.Digest)))))[..32];

    /// <summary>
    /// A split model's parts are separate blobs named by digest; the engine finds a split model's other parts by name
    /// (<c>PREFIX-0000i-of-0000N.gguf</c> next to the first). This makes <c>splits/&lt;key&gt;/</c> with one symbolic
    /// link per part (a hard link where symbolic links are refused; nothing is copied) and returns the first. A folder
    /// whose links are right is reused as it is; a new one is built aside and renamed into place, so a reader never
    /// sees half a set, and a folder another process just made is kept rather than replaced. A store that cannot be
    /// written gets the folder under the temp directory instead. Links are derived data: gc removes unreferenced ones.
    /// </summary>
    private string SplitView(List<ManifestLayer> layers, List<string> targets)
    {
        var count = layers.Count;
        var prefix = layers[0].FileName is { } source && SplitParts.TryParseName(Path.GetFileName(source), out var split) ? split.Prefix : "model";
        var names = Enumerable.Range(1, count).Select(i => SplitParts.FileName(prefix, i, count)).ToList();
        var key = SplitKey(layers);
        try
        {
            return Path.Combine(BuildLinks(SplitsDirectory, key, names, targets), names[0]);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            try
            {
                return Path.Combine(BuildLinks(Path.Combine(Path.GetTempPath(), "hearth-splits"), key, names, targets), names[0]);
            }
            catch (Exception again) when (again is IOException or UnauthorizedAccessException)
            {
                throw new ModelStoreException($"cannot make the part-named links of a {count}-part split model in {SplitsDirectory} ({ex.Message}) or in the temp directory ({again.Message})", again);
            }
        }
    }

    private static string BuildLinks(string parent, string key, List<string> names, List<string> targets)
    {
        var dir = Path.Combine(parent, key);
        bool Current() => Directory.Exists(dir) && names.Select((n, i) => (Link: Path.Combine(dir, n), Target: targets[i])).All(p => LinksTo(p.Link, p.Target));
        if (Current())
            return dir;

        Directory.CreateDirectory(parent);
        var building = Path.Combine(parent, $".{key}.{Environment.ProcessId}.{Guid.NewGuid():N}");
        Directory.CreateDirectory(building);
        try
        {
            for (var i = 0; i < names.Count; i++)
            {
                var link = Path.Combine(building, names[i]);
                try
                {
                    File.CreateSymbolicLink(link, Path.GetFullPath(targets[i]));
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or PlatformNotSupportedException)
                {
                    if (!FileLinks.TryCreateHardLink(targets[i], link))
                        throw new IOException($"cannot link split part {i + 1} ({targets[i]}) into {building}: {ex.Message}", ex);
                }
            }
            for (var attempt = 0; ; attempt++)
            {
                try
                {
                    Directory.Move(building, dir);
                    return dir;
                }
                catch (IOException) when (Directory.Exists(dir) && attempt < 3)
                {
                    if (Current())
                        return dir; // another process made the same links first: keep them
                    // Wrong links (a moved import, a changed blob): set them aside, then retry the rename.
                    var stale = Path.Combine(parent, $".{key}.stale.{Guid.NewGuid():N}");
                    try
                    {
                        Directory.Move(dir, stale);
                        Directory.Delete(stale, recursive: true); // links only: the blobs stay
                    }
                    catch (IOException)
                    {
                    }
                }
            }
        }
        finally
        {
            if (Directory.Exists(building))
                Directory.Delete(building, recursive: true);
        }
    }

    /// <summary>Whether <paramref name="link"/> is a link to (or the same file as) <paramref name="target"/>.</summary>
    private static bool LinksTo(string link, string target)
    {
        var info = new FileInfo(link);
        if (!info.Exists)
            return false;
        if (info.LinkTarget is { } t)
            return string.Equals(Path.GetFullPath(t, Path.GetDirectoryName(link)!), Path.GetFullPath(target), OperatingSystem.IsWindows() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal);
        return FileLinks.SameFile(link, target);
    }

    /// <summary>Records that a model was used now (best effort: a read-only store is not an error).</summary>
    public void MarkUsed(string reference)
    {
        try
        {
            if (Find(reference) is { } found)
                WriteManifest(found.Manifest with { LastUsed = Time.GetUtcNow() });
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    public string LayerPath(ManifestLayer layer)
    {
        ArgumentNullException.ThrowIfNull(layer);
        return layer.ExternalPath ?? BlobPath(layer.Digest);
    }

    /// <summary>Builds a manifest for model layers already in place, reading format facts from the first model file.</summary>
    public ModelManifest CreateManifest(string reference, ModelSourceInfo source, IReadOnlyList<ManifestLayer> layers, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(layers);
        var reference1 = ModelReference.Parse(reference).ToString();
        var first = layers.First(l => l.Role == ManifestLayer.ModelRole);
        var path = LayerPath(first);
        GgufSummary summary;
        try
        {
            using var file = GgufFile.Open(path);
            summary = GgufSummary.From(file);
        }
        catch (GgufFormatException ex)
        {
            throw new ModelStoreException($"{first.FileName ?? path} is not a usable GGUF model: {ex.Message}", ex);
        }

        return new ModelManifest
        {
            Reference = reference1,
            Architecture = summary.Architecture,
            FileType = summary.FileType,
            Parameters = summary.ParameterCount,
            Size = layers.Where(l => l.Role == ManifestLayer.ModelRole).Sum(l => l.Size),
            Source = source,
            PulledAt = Time.GetUtcNow(),
            Layers = layers,
            Metadata = metadata ?? new Dictionary<string, string>(),
        };
    }

    // ---- blobs ----

    /// <summary>Moves a verified temp file into place as the blob for <paramref name="hex"/>, atomically; drops it when the blob already exists.</summary>
    public string CommitBlob(string tempFile, string hex)
    {
        var blob = BlobPath(hex);
        Directory.CreateDirectory(BlobsDirectory);
        try
        {
            File.Move(tempFile, blob, overwrite: false);
            if (!OperatingSystem.IsWindows())
                File.SetUnixFileMode(blob, UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        }
        catch (IOException) when (File.Exists(blob))
        {
            // Another pull finished the same content first; both are verified, keep one.
            File.Delete(tempFile);
        }

        return blob;
    }

    /// <summary>
    /// Adds an existing file: hashes it, then hard-links it as the blob when the file system allows, else copies it
    /// (<paramref name="allowReference"/> false) or keeps it where it is as a verified external reference.
    /// </summary>
    public async Task<AddedFile> AddFileAsync(string path, bool allowReference, Action<long>? progress = null, CancellationToken cancellationToken = default)
    {
        var info = new FileInfo(path);
        if (!info.Exists)
            throw new FileNotFoundException($"model file not found: {info.FullName}", info.FullName);
        // A symbolic link (the Hugging Face cache's snapshots) is resolved to the file holding the data.
        var real = info.ResolveLinkTarget(returnFinalTarget: true) is FileInfo target ? target : info;
        if (!real.Exists)
            throw new FileNotFoundException($"model file {info.FullName} is a link to {real.FullName}, which does not exist", real.FullName);
        var hex = await HashFileAsync(real.FullName, progress, cancellationToken);
        var blob = BlobPath(hex);
        Directory.CreateDirectory(BlobsDirectory);
        if (File.Exists(blob))
            return new AddedFile(hex, real.Length, real.FullName, blob, AddMode.AlreadyPresent);
        if (FileLinks.TryCreateHardLink(real.FullName, blob))
            return new AddedFile(hex, real.Length, real.FullName, blob, AddMode.HardLinked);
        if (File.Exists(blob))
            return new AddedFile(hex, real.Length, real.FullName, blob, AddMode.AlreadyPresent);
        if (allowReference)
            return new AddedFile(hex, real.Length, real.FullName, real.FullName, AddMode.ExternalReference) { Modified = real.LastWriteTimeUtc };

        Directory.CreateDirectory(TempDirectory);
        var temp = Path.Combine(TempDirectory, "copy-" + Guid.NewGuid().ToString("N"));
        try
        {
            var copied = await CopyHashedAsync(real.FullName, temp, cancellationToken);
            if (copied != hex)
                throw new ModelStoreException($"{real.FullName} changed while it was being added (sha256 {hex} then {copied})");
            CommitBlob(temp, hex);
        }
        finally
        {
            File.Delete(temp);
        }

        return new AddedFile(hex, real.Length, real.FullName, blob, AddMode.Copied);
    }

    public static async Task<string> HashFileAsync(string path, Action<long>? progress = null, CancellationToken cancellationToken = default)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = ArrayPool<byte>.Shared.Rent(1 << 20);
        try
        {
            await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan | FileOptions.Asynchronous);
            long total = 0;
            int n;
            while ((n = await stream.ReadAsync(buffer.AsMemory(0, buffer.Length), cancellationToken)) > 0)
            {
                hash.AppendData(buffer, 0, n);
                total += n;
                progress?.Invoke(total);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private static async Task<string> CopyHashedAsync(string source, string destination, CancellationToken cancellationToken)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = ArrayPool<byte>.Shared.Rent(1 << 20);
        try
        {
            await using var input = new FileStream(source, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan | FileOptions.Asynchronous);
            await using var output = new FileStream(destination, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.Asynchronous);
            int n;
            while ((n = await input.ReadAsync(buffer.AsMemory(0, buffer.Length), cancellationToken)) > 0)
            {
                hash.AppendData(buffer, 0, n);
                await output.WriteAsync(buffer.AsMemory(0, n), cancellationToken);
            }

            output.Flush(flushToDisk: true);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    // ---- management ----

    /// <summary>Removes a model's manifest, then collects the blobs no manifest references any more (unless a pull holds the store).</summary>
    public RemoveResult Remove(string reference)
    {
        var found = Find(reference) ?? throw new ModelStoreException($"model '{reference}' is not in the store ({Root}); 'hearth list' shows what is");
        File.Delete(found.Path);
        DeleteEmptyParents(Path.GetDirectoryName(found.Path)!, ManifestsDirectory);
        using var exclusive = StoreLock.TryAcquire(LockPath, exclusive: true);
        return new RemoveResult(found.Manifest.Reference, exclusive is null ? null : CollectLocked());
    }

    /// <summary>Deletes every blob no manifest references. Throws when a pull or import holds the store.</summary>
    public GcResult CollectGarbage()
    {
        using var exclusive = StoreLock.TryAcquire(LockPath, exclusive: true)
            ?? throw new ModelStoreException($"the model store {Root} is in use by a pull or import; run 'hearth gc' again when it has finished");
        return CollectLocked();
    }

    private GcResult CollectLocked()
    {
        // An unreadable manifest aborts the collection (ReadManifest throws): never delete on incomplete knowledge.
        var referenced = ReadAll().SelectMany(x => x.Manifest.Layers).Where(l => l.ExternalPath is null)
            .Select(l => NormalizeHex(l.Digest)).ToHashSet(StringComparer.Ordinal);
        var removed = new List<string>();
        long bytes = 0;
        // Part-name link folders of split models no manifest describes any more (links only; never counted as freed).
        if (Directory.Exists(SplitsDirectory))
        {
            var keys = ReadAll().Select(x => x.Manifest.ModelLayers.ToList()).Where(l => l.Count > 1).Select(SplitKey).ToHashSet(StringComparer.Ordinal);
            foreach (var dir in new DirectoryInfo(SplitsDirectory).EnumerateDirectories())
            {
                if (!dir.Name.StartsWith('.') && !keys.Contains(dir.Name)) // ".…" folders are being built right now
                    dir.Delete(recursive: true);
            }
        }
        foreach (var (hex, file) in EnumerateBlobs())
        {
            if (referenced.Contains(hex))
                continue;
            var length = file.Length;
            file.Delete();
            removed.Add(hex);
            bytes += length;
        }

        return new GcResult(removed, bytes);
    }

    public IEnumerable<(string Hex, FileInfo File)> EnumerateBlobs()
    {
        if (!Directory.Exists(BlobsDirectory))
            yield break;
        foreach (var f in new DirectoryInfo(BlobsDirectory).EnumerateFiles(BlobPrefix + "*"))
        {
            var hex = f.Name[BlobPrefix.Length..];
            if (hex.Length == 64 && hex.All(c => char.IsAsciiHexDigitLower(c) || char.IsAsciiDigit(c)))
                yield return (hex, f);
        }
    }

    /// <summary>Re-hashes the data of one model (or every model) and reports each layer.</summary>
    public async Task<IReadOnlyList<VerifyResult>> VerifyAsync(string? reference, Action<string, long>? progress = null, CancellationToken cancellationToken = default)
    {
        IReadOnlyList<(string Path, ModelManifest Manifest)> targets = reference is null
            ? ReadAll()
            : [Find(reference) ?? throw new ModelStoreException($"model '{reference}' is not in the store ({Root}); 'hearth list' shows what is")];
        var results = new List<VerifyResult>();
        var verified = new Dictionary<string, VerifyResult>(StringComparer.Ordinal);
        foreach (var (manifestPath, manifest) in targets)
        {
            var updated = false;
            var layers = manifest.Layers.ToList();
            for (var i = 0; i < layers.Count; i++)
            {
                var layer = layers[i];
                var path = LayerPath(layer);
                var expected = NormalizeHex(layer.Digest);
                VerifyResult result;
                if (layer.ExternalPath is null && verified.TryGetValue(path, out var done))
                {
                    result = done with { Reference = manifest.Reference };
                }
                else if (!File.Exists(path))
                {
                    result = new VerifyResult(manifest.Reference, path, VerifyStatus.Missing, expected, null);
                }
                else
                {
                    var actual = await HashFileAsync(path, n => progress?.Invoke(path, n), cancellationToken);
                    result = new VerifyResult(manifest.Reference, path, actual == expected ? VerifyStatus.Ok : VerifyStatus.Corrupt, expected, actual);
                    if (result.Status == VerifyStatus.Ok && layer.ExternalPath is not null)
                    {
                        var modified = File.GetLastWriteTimeUtc(path);
                        if (layer.ExternalModified?.UtcDateTime != modified)
                        {
                            layers[i] = layer with { ExternalModified = new DateTimeOffset(modified, TimeSpan.Zero) };
                            updated = true;
                        }
                    }
                }

                if (layer.ExternalPath is null)
                    verified[path] = result;
                results.Add(result);
            }

            if (updated)
                WriteManifest(manifest with { Layers = layers });
        }

        return results;
    }

    /// <summary>Disk use: blobs counted once however many models share them, external files, partial downloads.</summary>
    public DiskUsage Usage()
    {
        var manifests = ReadAll();
        var blobs = EnumerateBlobs().ToDictionary(x => x.Hex, x => x.File.Length, StringComparer.Ordinal);
        var referenced = new HashSet<string>(StringComparer.Ordinal);
        var models = new List<ModelUsage>();
        var users = manifests.SelectMany(m => m.Manifest.Layers.Where(l => l.ExternalPath is null).Select(l => NormalizeHex(l.Digest)).Distinct())
            .GroupBy(h => h).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        long external = 0;
        foreach (var (_, m) in manifests)
        {
            long own = 0, shared = 0, ext = 0;
            foreach (var l in m.Layers.DistinctBy(l => l.Digest))
            {
                if (l.ExternalPath is not null)
                {
                    ext += l.Size;
                    continue;
                }

                var hex = NormalizeHex(l.Digest);
                referenced.Add(hex);
                if (users[hex] > 1)
                    shared += l.Size;
                else
                    own += l.Size;
            }

            external += ext;
            models.Add(new ModelUsage(m.Reference, own, shared, ext));
        }

        long partial = 0;
        if (Directory.Exists(TempDirectory))
            partial = new DirectoryInfo(TempDirectory).EnumerateFiles("*.partial").Sum(f => f.Length);
        return new DiskUsage(
            blobs.Values.Sum(),
            blobs.Count,
            blobs.Where(b => !referenced.Contains(b.Key)).Sum(b => b.Value),
            external,
            partial,
            models);
    }

    private static void DeleteEmptyParents(string directory, string stopAt)
    {
        var stop = Path.GetFullPath(stopAt);
        for (var d = new DirectoryInfo(directory); d is not null && d.FullName.Length > stop.Length && d.FullName.StartsWith(stop, StringComparison.Ordinal); d = d.Parent)
        {
            try
            {
                if (d.EnumerateFileSystemInfos().Any())
                    return;
                d.Delete();
            }
            catch (IOException)
            {
                return;
            }
        }
    }
}

internal enum AddMode
{
    /// <summary>The store already held this content.</summary>
    AlreadyPresent,

    /// <summary>Hard-linked into <c>blobs/</c>: same file, no second copy.</summary>
    HardLinked,

    /// <summary>Copied into <c>blobs/</c> (another file system, and a reference was not allowed).</summary>
    Copied,

    /// <summary>Kept where it is; the manifest refers to the verified external file.</summary>
    ExternalReference,
}

internal sealed record AddedFile(string Hex, long Size, string SourcePath, string StorePath, AddMode Mode)
{
    public DateTime? Modified { get; init; }

    public ManifestLayer ToLayer(string? fileName = null) => new()
    {
        Digest = "sha256:" + Hex,
        Size = Size,
        FileName = fileName ?? Path.GetFileName(SourcePath),
        ExternalPath = Mode == AddMode.ExternalReference ? SourcePath : null,
        ExternalModified = Mode == AddMode.ExternalReference && Modified is { } m ? new DateTimeOffset(m, TimeSpan.Zero) : null,
    };
}

internal sealed record RemoveResult(string Reference, GcResult? Collected);

internal sealed record GcResult(IReadOnlyList<string> RemovedBlobs, long BytesFreed);

internal enum VerifyStatus
{
    Ok,
    Missing,
    Corrupt,
}

internal sealed record VerifyResult(string Reference, string Path, VerifyStatus Status, string ExpectedHex, string? ActualHex);

internal sealed record ModelUsage(string Reference, long OwnBytes, long SharedBytes, long ExternalBytes);

internal sealed record DiskUsage(long BlobBytes, int BlobCount, long UnreferencedBytes, long ExternalBytes, long PartialBytes, IReadOnlyList<ModelUsage> Models);
