using System.Globalization;
using Hearth.Configuration;
using Hearth.Gguf;
using BundleFormat = Hearth.Engine.Model.BundleFormat;

namespace Hearth.Factory;

/// <summary>One domain of a bundle: router configuration plus an optional LoRA adapter (none: the base model answers).</summary>
public sealed record BundleDomain
{
    /// <summary>Domain name (letters, digits, '_' and '-').</summary>
    public required string Name { get; init; }

    /// <summary>Adapter file (llama.cpp's GGUF LoRA format), or null.</summary>
    public string? AdapterPath { get; init; }

    /// <summary>User scale of the adapter (the applied factor is scale·alpha/rank).</summary>
    public float Scale { get; init; } = 1f;

    /// <summary>What the domain covers (for the router).</summary>
    public string? Description { get; init; }

    /// <summary><c>local_only</c> or <c>allow_cloud</c>.</summary>
    public string Policy { get; init; } = "local_only";

    /// <summary>Whether emotional cues steer toward this domain.</summary>
    public bool Empathetic { get; init; }

    /// <summary>Example queries for the router.</summary>
    public IReadOnlyList<string> Examples { get; init; } = [];
}

/// <summary>What <c>bundle.yaml</c> describes: a base model and its domains.</summary>
public sealed record BundleSpec
{
    /// <summary>Base GGUF model.</summary>
    public required string BasePath { get; init; }

    /// <summary>The domains, in order.</summary>
    public required IReadOnlyList<BundleDomain> Domains { get; init; }

    /// <summary>Reads a <c>bundle.yaml</c>: <c>base:</c> (path, relative to the file) and <c>domains:</c>, each with
    /// <c>adapter</c>, <c>scale</c>, <c>description</c>, <c>policy</c>, <c>empathetic</c>, <c>examples</c>. Unknown keys,
    /// wrong types and missing files are errors naming the key, the file and the line.</summary>
    /// <exception cref="HearthConfigException">Every problem found.</exception>
    public static BundleSpec Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"Bundle description not found: {path}", path);
        var errors = new List<ConfigError>();
        var root = ConfigTree.ParseYaml(File.ReadAllText(path), path, errors);
        var dir = Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".";
        var ctx = new BindContext { BaseDirectory = dir };
        var top = new SectionReader(ctx, "", root);
        var basePath = top.String("base", null);
        if (basePath is null)
            ctx.Error("base", "required: the base GGUF model");
        else if (!File.Exists(Path.Combine(dir, basePath)))
            ctx.Error("base", $"file not found: {Path.Combine(dir, basePath)}");
        var domains = new List<BundleDomain>();
        var section = top.Section("domains");
        foreach (var (name, d) in section.Entries())
        {
            if (name.Length == 0 || name.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '_' or '-')))
                ctx.Error(d.Path, "a domain name may hold only letters, digits, '_' and '-'");
            var adapter = d.String("adapter", null);
            if (adapter is not null && !File.Exists(Path.Combine(dir, adapter)))
                ctx.Error(d.KeyOf("adapter"), $"file not found: {Path.Combine(dir, adapter)}");
            domains.Add(new BundleDomain
            {
                Name = name,
                AdapterPath = adapter is null ? null : Path.Combine(dir, adapter),
                Scale = (float)d.Number("scale", 1, -100, 100),
                Description = d.String("description", null),
                Policy = d.Enum("policy", DomainPolicy.LocalOnly, ("local_only", DomainPolicy.LocalOnly), ("allow_cloud", DomainPolicy.AllowCloud)) == DomainPolicy.LocalOnly ? "local_only" : "allow_cloud",
                Empathetic = d.Bool("empathetic", false),
                Examples = d.List("examples", []).Select(x => x.Value).ToArray(),
            });
            d.Finish();
        }
        section.Finish();
        if (domains.Count == 0)
            ctx.Error("domains", "required: at least one domain");
        top.Finish();
        errors.AddRange(ctx.Errors);
        if (errors.Count > 0)
            throw new HearthConfigException(errors);
        return new BundleSpec { BasePath = Path.Combine(dir, basePath!), Domains = domains };
    }
}

/// <summary>What <see cref="BundleBuilder.Build"/> wrote.</summary>
/// <param name="Domains">Each domain with its adapter's tensor count (0: base model only), alpha and rank.</param>
/// <param name="BaseTensors">Tensors copied from the base.</param>
/// <param name="Bytes">Size of the bundle.</param>
public sealed record BundleResult(IReadOnlyList<(string Domain, int AdapterTensors, float Alpha, int Rank)> Domains, int BaseTensors, long Bytes);

/// <summary>
/// <c>hearth factory bundle</c>: a base model, per-domain LoRA adapters and the domains' router configuration in one
/// GGUF. Base keys and tensors are copied unchanged; each adapter's tensors are added as <c>lora.DOMAIN.TARGET.lora_a/b</c>
/// (types unchanged) and the domains are described under <c>hearth.bundle.*</c>. The engine loads the bundle once and
/// applies the routed domain's adapter per request.
/// </summary>
public static class BundleBuilder
{
    /// <summary>Builds the bundle at <paramref name="outputPath"/> (written atomically).</summary>
    /// <exception cref="InvalidDataException">An adapter does not fit the base; the message names the domain, file and tensor.</exception>
    public static BundleResult Build(BundleSpec spec, string outputPath)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentException.ThrowIfNullOrEmpty(outputPath);
        using var baseFile = GgufFile.Open(spec.BasePath);
        ModelQuantizer.RefuseSplit(baseFile, "bundle");
        if (BundleFormat.IsBundle(baseFile))
            throw new InvalidDataException($"{spec.BasePath}: already a Hearth bundle; build from the plain base model.");
        var writer = new GgufWriter();
        foreach (var kv in baseFile.Metadata)
            writer.SetMetadata(kv.Key, kv.Value);
        foreach (var t in baseFile.Tensors)
            writer.AddTensor(baseFile, t);

        var opened = new List<GgufFile>();
        var summary = new List<(string, int, float, int)>();
        try
        {
            writer.SetMetadata(BundleFormat.VersionKey, GgufValue.FromUInt32(BundleFormat.Version));
            writer.SetMetadata(BundleFormat.DomainsKey, GgufValue.FromArray(GgufArray.Create(spec.Domains.Select(d => d.Name).ToArray())));
            foreach (var d in spec.Domains)
            {
                if (d.Description is not null)
                    writer.SetMetadata(BundleFormat.DomainKey(d.Name, "description"), GgufValue.FromString(d.Description));
                writer.SetMetadata(BundleFormat.DomainKey(d.Name, "policy"), GgufValue.FromString(d.Policy));
                writer.SetMetadata(BundleFormat.DomainKey(d.Name, "empathetic"), GgufValue.FromBool(d.Empathetic));
                writer.SetMetadata(BundleFormat.DomainKey(d.Name, "examples"), GgufValue.FromArray(GgufArray.Create(d.Examples.ToArray())));
                if (d.AdapterPath is null)
                {
                    summary.Add((d.Name, 0, 0f, 0));
                    continue;
                }
                // Check the adapter against the base exactly as a merge would (names, halves, shapes).
                using (var check = OpenChecked(d, baseFile))
                {
                    var adapter = GgufFile.Open(d.AdapterPath);
                    opened.Add(adapter);
                    var alpha = adapter.Metadata.GetSingle("adapter.lora.alpha") ?? 0f;
                    writer.SetMetadata(BundleFormat.DomainKey(d.Name, "alpha"), GgufValue.FromSingle(alpha));
                    writer.SetMetadata(BundleFormat.DomainKey(d.Name, "scale"), GgufValue.FromSingle(d.Scale));
                    writer.SetMetadata(BundleFormat.DomainKey(d.Name, "adapter"), GgufValue.FromString(adapter.Metadata.Name ?? Path.GetFileName(d.AdapterPath)));
                    var count = 0;
                    foreach (var t in adapter.Tensors.Where(t => t.Name.EndsWith(".lora_a", StringComparison.Ordinal) || t.Name.EndsWith(".lora_b", StringComparison.Ordinal)))
                    {
                        var name = BundleFormat.TensorPrefix(d.Name) + t.Name;
                        if (name.Length > BundleFormat.MaxTensorName)
                            throw new InvalidDataException($"domain '{d.Name}': tensor name '{name}' would be {name.Length} characters; ggml allows {BundleFormat.MaxTensorName}. Use a shorter domain name.");
                        writer.AddTensor(adapter, t, name);
                        count++;
                    }
                    summary.Add((d.Name, count, alpha, check.Pairs.Count > 0 ? check.Pairs[0].Rank : 0));
                }
            }
            writer.WriteTo(outputPath);
        }
        catch (InvalidDataException e) when (!e.Message.StartsWith("domain ", StringComparison.Ordinal))
        {
            throw new InvalidDataException($"bundle: {e.Message}", e);
        }
        finally
        {
            foreach (var f in opened)
                f.Dispose();
        }
        return new BundleResult(summary, baseFile.Tensors.Count, new FileInfo(outputPath).Length);
    }

    private static LoraAdapter OpenChecked(BundleDomain domain, GgufFile baseFile)
    {
        try
        {
            return LoraAdapter.Open(domain.AdapterPath!, baseFile);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"domain '{domain.Name}': {e.Message}", e);
        }
    }

    /// <summary>One line per domain for display.</summary>
    public static string Describe(BundleResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        return string.Join(Environment.NewLine, result.Domains.Select(d => d.AdapterTensors == 0
            ? $"  {d.Domain}: base model"
            : string.Create(CultureInfo.InvariantCulture, $"  {d.Domain}: LoRA, {d.AdapterTensors} tensors, rank {d.Rank}, alpha {d.Alpha}")));
    }
}
