using System.Collections;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Hearth.Configuration;
using Hearth.Engine.Model;
using Hearth.Privacy;

namespace Hearth.Store;

/// <summary>What <c>hearth pull</c> was asked for.</summary>
internal sealed record PullOptions
{
    /// <summary>Store the model under this reference instead of the one derived from the source.</summary>
    public string? Name { get; init; }

    /// <summary>Pin: the SHA-256 the (single) model file must have.</summary>
    public string? Sha256 { get; init; }

    public Action<DownloadProgress>? Progress { get; init; }

    /// <summary>Status lines (what is being fetched), for plain output.</summary>
    public Action<string>? Log { get; init; }
}

internal sealed record PullResult(ModelManifest Manifest, string ModelPath, long BytesTransferred, IReadOnlyList<DownloadResult> Downloads);

/// <summary>
/// Pulls a model into the store from one of its sources:
/// <list type="bullet">
/// <item>a local file (<c>./model.gguf</c>): hard-linked, or copied when on another file system;</item>
/// <item>a plain <c>http(s)://</c> URL, optionally pinned with <c>--sha256</c>;</item>
/// <item>Hugging Face: <c>hf.co/ORG/REPO[:QUANT]</c> or <c>hf.co/ORG/REPO/FILE.gguf</c> (file list from
/// <c>/api/models/{repo}</c>, data from <c>/{repo}/resolve/{revision}/{file}</c>; split files pulled together);</item>
/// <item>the Ollama registry: <c>ollama.com/[NS/]NAME[:TAG]</c> (<c>/v2/{ns}/{name}/manifests/{tag}</c>, <c>/v2/{ns}/{name}/blobs/{digest}</c>).</item>
/// </list>
/// Every request goes through an egress guard that allows exactly the host of the source (the URL given, or the
/// configured base URL of Hugging Face / the Ollama registry) plus the endpoints the configuration allows, which is
/// where redirects (e.g. to a CDN) may go.
/// </summary>
internal sealed partial class ModelPuller(ModelStore store, HearthConfig config, IDictionary? environment = null, AuditLog? audit = null)
{
    public const string OllamaModelMedia = "application/vnd.ollama.image.model";

    public int MaxAttempts { get; init; } = 4;

    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(1);

    public async Task<PullResult> PullAsync(string source, PullOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(source);
        options ??= new PullOptions();
        if (options.Name is not null)
            ModelReference.Parse(options.Name);
        var pin = options.Sha256 is null ? null : ModelStore.NormalizeHex(options.Sha256);
        using var shared = await store.EnterSharedAsync(cancellationToken);

        if (Uri.TryCreate(source, UriKind.Absolute, out var url) && (url.Scheme == Uri.UriSchemeHttp || url.Scheme == Uri.UriSchemeHttps))
            return await PullUrlAsync(url, pin, options, cancellationToken);
        if (StripPrefix(source, "hf.co/", "huggingface.co/", "hf://") is { } hf)
            return await PullHuggingFaceAsync(hf, pin, options, cancellationToken);
        if (StripPrefix(source, "ollama.com/", "registry.ollama.ai/", "ollama://") is { } ollama)
            return await PullOllamaAsync(ollama, pin, options, cancellationToken);
        if (File.Exists(source) || source.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase) || source.StartsWith('.') || Path.IsPathRooted(source))
            return await PullFileAsync(source, pin, options, cancellationToken);
        throw new ModelStoreException($"cannot tell where to pull '{source}' from: give a file path, an http(s):// URL, hf.co/ORG/REPO[:QUANT] or ollama.com/[NAMESPACE/]NAME[:TAG]");
    }

    /// <summary>The <c>hearth pull</c> command that would fetch a reference that is not in the store.</summary>
    public static string SuggestPullCommand(string reference)
    {
        if (reference.StartsWith("hf.co/", StringComparison.OrdinalIgnoreCase) || reference.StartsWith("huggingface.co/", StringComparison.OrdinalIgnoreCase)
            || reference.StartsWith("ollama.com/", StringComparison.OrdinalIgnoreCase) || reference.Contains("://", StringComparison.Ordinal))
            return "hearth pull " + reference;
        return "hearth pull ollama.com/library/" + reference.Trim();
    }

    private static string? StripPrefix(string source, params string[] prefixes)
    {
        foreach (var p in prefixes)
        {
            if (source.StartsWith(p, StringComparison.OrdinalIgnoreCase))
                return source[p.Length..];
        }

        return null;
    }

    // ---- local file ----

    private async Task<PullResult> PullFileAsync(string path, string? pin, PullOptions options, CancellationToken cancellationToken)
    {
        var full = Path.GetFullPath(path);
        options.Log?.Invoke($"adding {full}");
        var added = await store.AddFileAsync(full, allowReference: false, n => options.Progress?.Invoke(new DownloadProgress(Path.GetFileName(full), n, new FileInfo(full).Length)), cancellationToken);
        if (pin is not null && added.Hex != pin)
            throw new ModelStoreException($"sha256 mismatch for {full}: expected {pin}, got {added.Hex}");
        var (name, tag) = ModelReference.FromFileName(full);
        var manifest = store.CreateManifest(options.Name ?? name + ":" + tag, new ModelSourceInfo("file", full), [added.ToLayer()]);
        store.WriteManifest(manifest);
        return new PullResult(manifest, added.StorePath, 0, []);
    }

    // ---- plain URL ----

    private async Task<PullResult> PullUrlAsync(Uri url, string? pin, PullOptions options, CancellationToken cancellationToken)
    {
        using var http = CreateClient(url);
        var fileName = Uri.UnescapeDataString(url.Segments.LastOrDefault() ?? "model.gguf");
        options.Log?.Invoke($"downloading {url.GetLeftPart(UriPartial.Path)}");
        var result = await Downloader(http).DownloadAsync(new DownloadRequest(url) { ExpectedSha256 = pin, Label = fileName }, options.Progress, cancellationToken);
        var (name, tag) = ModelReference.FromFileName(fileName);
        var layer = new ManifestLayer { Digest = "sha256:" + result.Hex, Size = result.Size, FileName = fileName };
        var manifest = store.CreateManifest(options.Name ?? name + ":" + tag, new ModelSourceInfo("url", url.GetLeftPart(UriPartial.Path)), [layer]);
        store.WriteManifest(manifest);
        return new PullResult(manifest, result.BlobPath, result.BytesTransferred, [result]);
    }

    // ---- Hugging Face ----

    private async Task<PullResult> PullHuggingFaceAsync(string spec, string? pin, PullOptions options, CancellationToken cancellationToken)
    {
        // ORG/REPO[:QUANT] or ORG/REPO/path/FILE.gguf, optionally ORG/REPO@REVISION...
        var parts = spec.Split('/', StringSplitOptions.None);
        if (parts.Length < 2 || parts[0].Length == 0 || parts[1].Length == 0)
            throw new ModelStoreException($"invalid Hugging Face reference 'hf.co/{spec}': expected hf.co/ORG/REPO[:QUANT] or hf.co/ORG/REPO/FILE.gguf");
        string? quant = null, file = null, revision = "main";
        var repoName = parts[1];
        if (parts.Length == 2 && repoName.LastIndexOf(':') is var c and > 0)
        {
            quant = repoName[(c + 1)..];
            repoName = repoName[..c];
        }
        else if (parts.Length > 2)
        {
            file = string.Join('/', parts[2..]);
        }

        if (repoName.IndexOf('@', StringComparison.Ordinal) is var at and > 0)
        {
            revision = repoName[(at + 1)..];
            repoName = repoName[..at];
        }

        var repo = parts[0] + "/" + repoName;
        var baseUrl = config.Models.HuggingFaceUrl;
        using var http = CreateClient(baseUrl);
        var token = Env("HF_TOKEN");
        var auth = string.IsNullOrEmpty(token) ? null : new AuthenticationHeaderValue("Bearer", token);

        var listUrl = revision == "main"
            ? new Uri(baseUrl, $"api/models/{repo}?blobs=true")
            : new Uri(baseUrl, $"api/models/{repo}/revision/{Uri.EscapeDataString(revision)}?blobs=true");
        options.Log?.Invoke($"listing {repo} ({listUrl.GetLeftPart(UriPartial.Authority)})");
        var siblings = await ListHuggingFaceFilesAsync(http, listUrl, repo, auth, cancellationToken);
        var chosen = ChooseHuggingFaceFiles(repo, siblings, quant, file);
        if (pin is not null && chosen.Count != 1)
            throw new ModelStoreException($"--sha256 pins one file, but {repo} has {chosen.Count} parts to pull");

        var downloads = new List<DownloadResult>();
        var downloader = Downloader(http);
        foreach (var f in chosen)
        {
            var url = new Uri(baseUrl, $"{repo}/resolve/{Uri.EscapeDataString(revision)}/{string.Join('/', f.Name.Split('/').Select(Uri.EscapeDataString))}");
            options.Log?.Invoke($"downloading {f.Name}");
            var request = new DownloadRequest(url)
            {
                ExpectedSha256 = pin ?? f.Sha256,
                ExpectedSize = f.Size,
                Authorization = auth,
                DigestFromHeaders = true,
                Label = Path.GetFileName(f.Name),
            };
            downloads.Add(await downloader.DownloadAsync(request, options.Progress, cancellationToken));
        }

        var tag = quant?.ToUpperInvariant() ?? ModelReference.QuantOf(chosen[0].Name) ?? ModelReference.DefaultTag;
        var layers = chosen.Zip(downloads, (f, d) => new ManifestLayer { Digest = "sha256:" + d.Hex, Size = d.Size, FileName = f.Name }).ToList();
        var manifest = store.CreateManifest(options.Name ?? $"hf.co/{repo}:{tag}", new ModelSourceInfo("huggingface", $"{new Uri(baseUrl, repo)}@{revision}"), layers);
        store.WriteManifest(manifest);
        return new PullResult(manifest, downloads[0].BlobPath, downloads.Sum(d => d.BytesTransferred), downloads);
    }

    internal sealed record HubFile(string Name, string? Sha256, long? Size);

    private static async Task<IReadOnlyList<HubFile>> ListHuggingFaceFilesAsync(HttpClient http, Uri url, string repo, AuthenticationHeaderValue? auth, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Authorization = auth;
        using var response = await http.SendAsync(request, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            var why = (int)response.StatusCode is 401 or 403 or 404
                ? " (no such repository, or it is gated/private: set HF_TOKEN to a token with access)"
                : "";
            throw new ModelStoreException($"Hugging Face repository {repo}: {url.GetLeftPart(UriPartial.Path)} answered {(int)response.StatusCode} {response.ReasonPhrase}{why}");
        }

        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        try
        {
            using var doc = JsonDocument.Parse(text);
            if (!doc.RootElement.TryGetProperty("siblings", out var siblings) || siblings.ValueKind != JsonValueKind.Array)
                throw new ModelStoreException($"Hugging Face repository {repo}: the file list from {url.GetLeftPart(UriPartial.Path)} has no 'siblings' array");
            var files = new List<HubFile>();
            foreach (var s in siblings.EnumerateArray())
            {
                if (!s.TryGetProperty("rfilename", out var name) || name.GetString() is not { } n)
                    continue;
                string? sha = null;
                long? size = s.TryGetProperty("size", out var sz) && sz.ValueKind == JsonValueKind.Number ? sz.GetInt64() : null;
                if (s.TryGetProperty("lfs", out var lfs) && lfs.ValueKind == JsonValueKind.Object)
                {
                    sha = lfs.TryGetProperty("sha256", out var h) ? h.GetString() : null;
                    if (lfs.TryGetProperty("size", out var ls) && ls.ValueKind == JsonValueKind.Number)
                        size = ls.GetInt64();
                }

                files.Add(new HubFile(n, sha, size));
            }

            return files;
        }
        catch (JsonException ex)
        {
            throw new ModelStoreException($"Hugging Face repository {repo}: the file list from {url.GetLeftPart(UriPartial.Path)} is not valid JSON: {ex.Message}", ex);
        }
    }

    /// <summary>Picks the GGUF file(s) to pull: a named file, the one matching a quantization, or the only one; split parts together.</summary>
    internal static IReadOnlyList<HubFile> ChooseHuggingFaceFiles(string repo, IReadOnlyList<HubFile> files, string? quant, string? file)
    {
        var ggufs = files.Where(f => f.Name.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase)).ToList();
        HubFile first;
        if (file is not null)
        {
            first = ggufs.FirstOrDefault(f => f.Name.Equals(file, StringComparison.Ordinal))
                ?? throw new ModelStoreException($"Hugging Face repository {repo} has no file '{file}' (GGUF files: {Names(ggufs)})");
        }
        else
        {
            var models = ggufs.Where(f => !Path.GetFileName(f.Name).Contains("mmproj", StringComparison.OrdinalIgnoreCase)).ToList();
            var groups = models.GroupBy(f => SplitKey(f.Name)).ToList();
            List<IGrouping<string, HubFile>> matching;
            if (quant is not null)
            {
                var token = new Regex("(^|[^A-Za-z0-9])" + Regex.Escape(quant) + "($|[^A-Za-z0-9])", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);
                matching = groups.Where(g => token.IsMatch(Path.GetFileNameWithoutExtension(g.Key))).ToList();
                if (matching.Count == 0)
                    throw new ModelStoreException($"Hugging Face repository {repo} has no GGUF file for quantization '{quant}' (GGUF files: {Names(models)})");
            }
            else
            {
                matching = groups.Count == 1 ? groups : groups.Where(g => ModelReference.QuantOf(g.Key) == "Q4_K_M").ToList();
                if (groups.Count == 0)
                    throw new ModelStoreException($"Hugging Face repository {repo} has no GGUF files");
                if (matching.Count == 0)
                    throw new ModelStoreException($"Hugging Face repository {repo} has several GGUF files; name one with hf.co/{repo}:QUANT or hf.co/{repo}/FILE.gguf (GGUF files: {Names(models)})");
            }

            if (matching.Count > 1)
                throw new ModelStoreException($"'{quant}' matches several files in {repo}: {string.Join(", ", matching.Select(g => g.Key))}; name one with hf.co/{repo}/FILE.gguf");
            first = matching[0].OrderBy(f => f.Name, StringComparer.Ordinal).First();
        }

        if (!SplitParts.TryParseName(first.Name, out var split))
            return [first];
        var parts = new List<HubFile>();
        for (var i = 1; i <= split.Count; i++)
        {
            var name = split.WithNumber(i);
            parts.Add(ggufs.FirstOrDefault(f => f.Name == name)
                ?? throw new ModelStoreException($"Hugging Face repository {repo} lacks split part {name} of {first.Name}"));
        }

        return parts;
    }

    private static string SplitKey(string name) => SplitParts.TryParseName(name, out var split) ? split.Prefix + ".gguf" : name;

    private static string Names(IEnumerable<HubFile> files)
    {
        var names = files.Select(f => f.Name).ToList();
        return names.Count == 0 ? "none" : string.Join(", ", names.Take(20)) + (names.Count > 20 ? ", ..." : "");
    }


    // ---- Ollama registry ----

    private async Task<PullResult> PullOllamaAsync(string spec, string? pin, PullOptions options, CancellationToken cancellationToken)
    {
        var r = ModelReference.TryParse(spec, out var parsed, out var problem) ? parsed! : throw new ModelStoreException($"invalid Ollama reference 'ollama.com/{spec}': {problem}");
        if (r.Segments.Count > 2)
            throw new ModelStoreException($"invalid Ollama reference 'ollama.com/{spec}': expected ollama.com/[NAMESPACE/]NAME[:TAG]");
        var ns = r.Segments.Count == 2 ? r.Segments[0] : ModelReference.LibraryNamespace;
        var name = r.Segments[^1];
        var baseUrl = config.Models.OllamaRegistryUrl;
        using var http = CreateClient(baseUrl);
        var manifestUrl = new Uri(baseUrl, $"v2/{ns}/{name}/manifests/{r.Tag}");
        options.Log?.Invoke($"fetching manifest {ns}/{name}:{r.Tag} ({baseUrl.GetLeftPart(UriPartial.Authority)})");
        using var request = new HttpRequestMessage(HttpMethod.Get, manifestUrl);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/vnd.docker.distribution.manifest.v2+json"));
        using var response = await http.SendAsync(request, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new ModelStoreException($"Ollama registry: {manifestUrl.GetLeftPart(UriPartial.Path)} answered {(int)response.StatusCode} {response.ReasonPhrase}"
                + ((int)response.StatusCode == 404 ? $" (no model {ns}/{name} with tag {r.Tag})" : ""));
        }

        var layers = ParseOllamaLayers(await response.Content.ReadAsStringAsync(cancellationToken), manifestUrl);
        var model = layers.FirstOrDefault(l => l.MediaType == OllamaModelMedia)
            ?? throw new ModelStoreException($"Ollama registry: {ns}/{name}:{r.Tag} has no model layer ({OllamaModelMedia})");
        if (pin is not null && pin != ModelStore.NormalizeHex(model.Digest))
            throw new ModelStoreException($"sha256 mismatch for ollama.com/{ns}/{name}:{r.Tag}: the registry names {model.Digest}, --sha256 pins {pin}");

        var downloader = Downloader(http);
        options.Log?.Invoke($"downloading model layer {model.Digest}");
        var blobUrl = new Uri(baseUrl, $"v2/{ns}/{name}/blobs/{model.Digest}");
        var result = await downloader.DownloadAsync(
            new DownloadRequest(blobUrl) { ExpectedSha256 = model.Digest, ExpectedSize = model.Size, Label = $"{name}:{r.Tag}" }, options.Progress, cancellationToken);

        // Template, parameters, system prompt, licence: small text layers kept in the manifest, verified like blobs.
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var l in layers.Where(l => l.MediaType != OllamaModelMedia && l.MediaType.StartsWith("application/vnd.ollama.image.", StringComparison.Ordinal)))
        {
            var kind = l.MediaType["application/vnd.ollama.image.".Length..];
            if (l.Size > 1 << 20 || kind is "adapter" or "projector" or "messages")
            {
                metadata["skipped." + kind] = l.Digest;
                continue;
            }

            metadata[kind] = await FetchTextLayerAsync(http, new Uri(baseUrl, $"v2/{ns}/{name}/blobs/{l.Digest}"), l.Digest, cancellationToken);
        }

        var defaultName = ns == ModelReference.LibraryNamespace ? $"{name}:{r.Tag}" : $"{ns}/{name}:{r.Tag}";
        var layer = new ManifestLayer { Digest = "sha256:" + result.Hex, Size = result.Size, FileName = model.Digest };
        var manifest = store.CreateManifest(options.Name ?? defaultName, new ModelSourceInfo("ollama", new Uri(baseUrl, $"{ns}/{name}:{r.Tag}").ToString()), [layer], metadata);
        store.WriteManifest(manifest);
        return new PullResult(manifest, result.BlobPath, result.BytesTransferred, [result]);
    }

    internal sealed record OllamaLayer(string MediaType, string Digest, long Size);

    internal static List<OllamaLayer> ParseOllamaLayers(string json, Uri source)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            if (!doc.RootElement.TryGetProperty("layers", out var layers) || layers.ValueKind != JsonValueKind.Array)
                throw new ModelStoreException($"Ollama manifest {source} has no 'layers' array");
            var list = new List<OllamaLayer>();
            foreach (var l in layers.EnumerateArray())
            {
                var media = l.TryGetProperty("mediaType", out var m) ? m.GetString() : null;
                var digest = l.TryGetProperty("digest", out var d) ? d.GetString() : null;
                var size = l.TryGetProperty("size", out var s) && s.ValueKind == JsonValueKind.Number ? s.GetInt64() : -1;
                if (media is null || digest is null || size < 0)
                    throw new ModelStoreException($"Ollama manifest {source}: a layer lacks mediaType, digest or size");
                ModelStore.NormalizeHex(digest);
                list.Add(new OllamaLayer(media, digest, size));
            }

            return list;
        }
        catch (JsonException ex)
        {
            throw new ModelStoreException($"Ollama manifest {source} is not valid JSON: {ex.Message}", ex);
        }
    }

    private static async Task<string> FetchTextLayerAsync(HttpClient http, Uri url, string digest, CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync(url, cancellationToken);
        if (!response.IsSuccessStatusCode)
            throw new ModelStoreException($"{url.GetLeftPart(UriPartial.Path)} answered {(int)response.StatusCode} {response.ReasonPhrase}");
        var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken);
        var hex = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes));
        if (hex != ModelStore.NormalizeHex(digest))
            throw new ModelStoreException($"sha256 mismatch for {url.GetLeftPart(UriPartial.Path)}: expected {ModelStore.NormalizeHex(digest)}, got {hex}");
        return Encoding.UTF8.GetString(bytes);
    }

    /// <summary>
    /// Whether naming a source is consent to reach its host (true for <c>hearth pull</c> typed by the user). False for
    /// pulls requested over the HTTP API: then only hosts in the configured allow-list can be reached.
    /// </summary>
    public bool AllowSourceHost { get; init; } = true;

    // ---- plumbing ----

    private BlobDownloader Downloader(HttpClient http) => new(store, http)
    {
        MaxAttempts = MaxAttempts,
        RetryDelay = RetryDelay,
        ParallelSegments = config.Models.DownloadSegments,
        ParallelMinSize = config.Models.ParallelDownloadMinSize,
    };

    /// <summary>A client whose guard allows the source's own endpoint plus the configured allow-list (redirect targets).</summary>
    private HttpClient CreateClient(Uri source)
    {
        var root = new Uri(source.GetLeftPart(UriPartial.Authority));
        var guard = new EgressGuard(AllowSourceHost ? [root, .. config.EgressAllowList] : config.EgressAllowList, audit);
        return HearthHttp.CreateClient(guard, TimeSpan.FromHours(12));
    }

    private string? Env(string name)
        => environment is null ? Environment.GetEnvironmentVariable(name) : environment[name] as string;
}
