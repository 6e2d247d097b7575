using System.Collections;
using System.Text;

namespace Hearth.Store;

/// <summary>Layouts <c>hearth import</c> understands.</summary>
internal enum ImportLayout
{
    /// <summary>Ollama's store: <c>manifests/&lt;host&gt;/&lt;ns&gt;/&lt;name&gt;/&lt;tag&gt;</c> and <c>blobs/sha256-&lt;hex&gt;</c>.</summary>
    Ollama,

    /// <summary>LM Studio's models folder: <c>&lt;publisher&gt;/&lt;repo&gt;/&lt;file&gt;.gguf</c>.</summary>
    LmStudio,

    /// <summary>The Hugging Face cache: <c>models--ORG--REPO/snapshots/&lt;rev&gt;/&lt;file&gt;</c> (symlinks into <c>blobs/</c>).</summary>
    HuggingFace,

    /// <summary>Any folder of <c>.gguf</c> files (searched recursively).</summary>
    Directory,
}

/// <summary>One model registered by an import.</summary>
internal sealed record ImportedModel(string Reference, string SourcePath, AddMode Mode, string Hex, long Size);

/// <summary>A file an import skipped, and why.</summary>
internal sealed record ImportSkip(string Path, string Reason);

internal sealed record ImportResult(IReadOnlyList<ImportedModel> Imported, IReadOnlyList<ImportSkip> Skipped);

/// <summary>
/// Registers models already on disk without a second copy: each file is hashed, then hard-linked into
/// <c>blobs/</c> when it is on the store's file system, else recorded as a verified reference to the external file.
/// </summary>
internal sealed class ModelImporter(ModelStore store, IDictionary? environment = null)
{
    private const string OllamaModelMedia = ModelPuller.OllamaModelMedia;

    public Action<string>? Log { get; init; }

    /// <summary>Default locations of each layout that exist on this machine.</summary>
    public IReadOnlyList<(ImportLayout Layout, string Path)> DiscoverDefaults()
    {
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        var candidates = new List<(ImportLayout, string?)>
        {
            (ImportLayout.Ollama, Env("OLLAMA_MODELS") ?? Path.Combine(home, ".ollama", "models")),
            (ImportLayout.LmStudio, Path.Combine(home, ".lmstudio", "models")),
            (ImportLayout.LmStudio, Path.Combine(home, ".cache", "lm-studio", "models")),
            (ImportLayout.HuggingFace, Env("HF_HUB_CACHE") ?? (Env("HF_HOME") is { } hf ? Path.Combine(hf, "hub") : Path.Combine(home, ".cache", "huggingface", "hub"))),
        };
        return candidates.Where(c => c.Item2 is not null && System.IO.Directory.Exists(c.Item2)).Select(c => (c.Item1, c.Item2!)).ToList();
    }

    /// <summary>Guesses the layout of a folder: Ollama (manifests/ + blobs/), HF cache (models--*), else a folder of GGUF files.</summary>
    public static ImportLayout Detect(string path)
    {
        if (System.IO.Directory.Exists(Path.Combine(path, "manifests")) && System.IO.Directory.Exists(Path.Combine(path, "blobs")))
            return ImportLayout.Ollama;
        if (System.IO.Directory.Exists(path) && System.IO.Directory.EnumerateDirectories(path, "models--*").Any())
            return ImportLayout.HuggingFace;
        if (System.IO.Directory.Exists(Path.Combine(path, "hub")) && System.IO.Directory.EnumerateDirectories(Path.Combine(path, "hub"), "models--*").Any())
            return ImportLayout.HuggingFace;
        return ImportLayout.Directory;
    }

    public async Task<ImportResult> ImportAsync(ImportLayout layout, string path, CancellationToken cancellationToken = default)
    {
        var root = Path.GetFullPath(path);
        if (!System.IO.Directory.Exists(root))
            throw new DirectoryNotFoundException($"import folder not found: {root}");
        if (layout == ImportLayout.HuggingFace && !System.IO.Directory.EnumerateDirectories(root, "models--*").Any() && System.IO.Directory.Exists(Path.Combine(root, "hub")))
            root = Path.Combine(root, "hub");

        using var shared = await store.EnterSharedAsync(cancellationToken);
        var imported = new List<ImportedModel>();
        var skipped = new List<ImportSkip>();
        var candidates = layout switch
        {
            ImportLayout.Ollama => OllamaCandidates(root, skipped),
            ImportLayout.LmStudio => GgufFiles(root).Select(f => LmStudioCandidate(root, f)),
            ImportLayout.HuggingFace => HuggingFaceCandidates(root),
            _ => GgufFiles(root).Select(f => DirectoryCandidate(f)),
        };
        var kind = layout switch
        {
            ImportLayout.Ollama => "import-ollama",
            ImportLayout.LmStudio => "import-lmstudio",
            ImportLayout.HuggingFace => "import-hf",
            _ => "import-dir",
        };

        foreach (var c in candidates)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Log?.Invoke($"importing {c.File} as {c.Reference}");
            try
            {
                var added = await store.AddFileAsync(c.File, allowReference: true, cancellationToken: cancellationToken);
                if (c.ExpectedHex is { } expected && added.Hex != expected)
                {
                    skipped.Add(new ImportSkip(c.File, $"its sha256 is {added.Hex}, but its name says {expected} (corrupt?)"));
                    continue;
                }

                var manifest = store.CreateManifest(c.Reference, new ModelSourceInfo(kind, c.File), [added.ToLayer(Path.GetFileName(c.File))], c.Metadata);
                store.WriteManifest(manifest);
                imported.Add(new ImportedModel(manifest.Reference, c.File, added.Mode, added.Hex, added.Size));
            }
            catch (ModelStoreException ex)
            {
                skipped.Add(new ImportSkip(c.File, ex.Message));
            }
        }

        return new ImportResult(imported, skipped);
    }

    private sealed record Candidate(string File, string Reference, string? ExpectedHex = null, IReadOnlyDictionary<string, string>? Metadata = null);

    private static IEnumerable<string> GgufFiles(string root)
        => System.IO.Directory.EnumerateFiles(root, "*.gguf", new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true, AttributesToSkip = FileAttributes.System })
            .Where(f => !Path.GetFileName(f).Contains("mmproj", StringComparison.OrdinalIgnoreCase))
            .Order(StringComparer.Ordinal);

    private static Candidate DirectoryCandidate(string file)
    {
        var (name, tag) = ModelReference.FromFileName(file);
        return new Candidate(file, name + ":" + tag);
    }

    private static Candidate LmStudioCandidate(string root, string file)
    {
        // <publisher>/<repo>/<file>.gguf → publisher/repo:QUANT; files elsewhere are named after the file.
        var rel = Path.GetRelativePath(root, file).Split(Path.DirectorySeparatorChar);
        if (rel.Length < 3)
            return DirectoryCandidate(file);
        var tag = ModelReference.QuantOf(file) ?? ModelReference.FromFileName(file).Name;
        return new Candidate(file, $"{ModelReference.Sanitize(rel[0])}/{ModelReference.Sanitize(rel[1])}:{Tag(tag)}");
    }

    private static IEnumerable<Candidate> HuggingFaceCandidates(string root)
    {
        foreach (var repoDir in System.IO.Directory.EnumerateDirectories(root, "models--*").Order(StringComparer.Ordinal))
        {
            var parts = Path.GetFileName(repoDir)["models--".Length..].Split("--");
            if (parts.Length < 2)
                continue;
            var snapshots = Path.Combine(repoDir, "snapshots");
            if (!System.IO.Directory.Exists(snapshots))
                continue;
            foreach (var file in GgufFiles(snapshots))
            {
                var tag = ModelReference.QuantOf(file) ?? ModelReference.FromFileName(file).Name;
                yield return new Candidate(file, $"hf.co/{parts[0]}/{string.Join("--", parts[1..])}:{Tag(tag)}");
            }
        }
    }

    private static IEnumerable<Candidate> OllamaCandidates(string root, List<ImportSkip> skipped)
    {
        var manifests = Path.Combine(root, "manifests");
        foreach (var file in System.IO.Directory.EnumerateFiles(manifests, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var rel = Path.GetRelativePath(manifests, file).Split(Path.DirectorySeparatorChar);
            if (rel.Length != 4)
            {
                skipped.Add(new ImportSkip(file, "not at manifests/<host>/<namespace>/<name>/<tag>"));
                continue;
            }

            List<ModelPuller.OllamaLayer> layers;
            try
            {
                layers = ModelPuller.ParseOllamaLayers(File.ReadAllText(file), new Uri(file));
            }
            catch (ModelStoreException ex)
            {
                skipped.Add(new ImportSkip(file, ex.Message));
                continue;
            }

            var model = layers.FirstOrDefault(l => l.MediaType == OllamaModelMedia);
            if (model is null)
            {
                skipped.Add(new ImportSkip(file, "no model layer"));
                continue;
            }

            var hex = ModelStore.NormalizeHex(model.Digest);
            var blob = Path.Combine(root, "blobs", "sha256-" + hex);
            if (!File.Exists(blob))
            {
                skipped.Add(new ImportSkip(file, $"its model blob {blob} is missing"));
                continue;
            }

            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var l in layers.Where(l => l.MediaType is "application/vnd.ollama.image.template" or "application/vnd.ollama.image.params" or "application/vnd.ollama.image.system"))
            {
                var path = Path.Combine(root, "blobs", "sha256-" + ModelStore.NormalizeHex(l.Digest));
                if (File.Exists(path) && l.Size <= 1 << 20)
                    metadata[l.MediaType["application/vnd.ollama.image.".Length..]] = File.ReadAllText(path, Encoding.UTF8);
            }

            var (host, ns, name, tag) = (rel[0], rel[1], rel[2], rel[3]);
            var reference = host == "registry.ollama.ai"
                ? (ns == ModelReference.LibraryNamespace ? $"{name}:{tag}" : $"{ns}/{name}:{tag}")
                : $"{host}/{ns}/{name}:{tag}";
            if (!ModelReference.TryParse(reference, out _, out var problem))
            {
                skipped.Add(new ImportSkip(file, $"cannot name it '{reference}': {problem}"));
                continue;
            }

            yield return new Candidate(blob, reference, hex, metadata);
        }
    }

    private static string Tag(string text)
    {
        if (ModelReference.TryParse("x:" + text, out _, out _))
            return text;
        var t = ModelReference.Sanitize(text);
        return t.Length > 128 ? t[..128] : t;
    }

    private string? Env(string name)
    {
        var value = environment is null ? Environment.GetEnvironmentVariable(name) : environment[name] as string;
        return string.IsNullOrWhiteSpace(value) ? null : value;
    }
}
