using System.Globalization;
using Hearth.Gguf;

namespace Hearth.Engine.Model;

/// <summary>
/// A LoRA adapter in llama.cpp's GGUF format, bound to a loaded base model: for each adapted weight W (ggml shape
/// {n_in, n_out}) a pair <c>W.lora_a</c> {n_in, r} and <c>W.lora_b</c> {r, n_out}, applied at inference as
/// y = W·x + s·B(A·x) with s = user_scale·alpha/r (user_scale when alpha is 0). The adapter's tensors are used in place
/// from their mapping: a standalone adapter file, or a Hearth bundle where they sit beside the base weights under a
/// per-domain prefix.
/// </summary>
internal sealed class LoraAdapter : IDisposable
{
    private readonly GgufFile? _ownedFile;

    private LoraAdapter(string name, float alpha, IReadOnlyDictionary<WeightMatrix, LoraPair> pairs, GgufFile? ownedFile)
    {
        Name = name;
        Alpha = alpha;
        Pairs = pairs;
        _ownedFile = ownedFile;
    }

    /// <summary>The adapter's name (a domain name in a bundle, else the file's <c>general.name</c> or file name).</summary>
    public string Name { get; }

    /// <summary><c>adapter.lora.alpha</c> (0 when absent).</summary>
    public float Alpha { get; }

    /// <summary>The adapted base weights and their A/B matrices.</summary>
    public IReadOnlyDictionary<WeightMatrix, LoraPair> Pairs { get; }

    /// <summary>The rank of the first pair (adapters may mix ranks per tensor; scales use each pair's own).</summary>
    public int Rank => Pairs.Values.Select(p => p.A.Rows).DefaultIfEmpty(0).First();

    /// <summary>Opens a standalone adapter file for <paramref name="model"/>; errors name the file, tensor and shapes.</summary>
    public static LoraAdapter Open(string path, TransformerModel model, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        var file = GgufFile.Open(path);
        try
        {
            var type = file.Metadata.GetString("adapter.type");
            if (!string.Equals(type, "lora", StringComparison.Ordinal))
                throw new ModelLoadException($"{path}: not a LoRA adapter (adapter.type is {(type is null ? "missing" : $"'{type}'")}; expected 'lora').");
            var arch = file.Metadata.Architecture;
            if (!string.Equals(arch, model.File.Metadata.Architecture, StringComparison.Ordinal))
                throw new ModelLoadException($"{path}: adapter architecture '{arch}' does not match the model's '{model.File.Metadata.Architecture}'.");
            var alpha = file.Metadata.GetSingle("adapter.lora.alpha") ?? 0f;
            var pairs = Bind(file, path, "", model);
            return new LoraAdapter(name ?? file.Metadata.Name ?? Path.GetFileNameWithoutExtension(path), alpha, pairs, file);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Binds the adapter stored in <paramref name="model"/>'s own file under tensor-name
    /// <paramref name="prefix"/> (a bundle's domain adapter).</summary>
    public static LoraAdapter FromModelFile(TransformerModel model, string name, string prefix, float alpha)
    {
        ArgumentNullException.ThrowIfNull(model);
        return new LoraAdapter(name, alpha, Bind(model.File, $"bundle adapter '{name}'", prefix, model), null);
    }

    /// <summary>The effective scale of a pair at <paramref name="userScale"/>: user·alpha/r, or user when alpha is 0.</summary>
    public float ScaleFor(LoraPair pair, float userScale) => Alpha != 0 ? userScale * Alpha / pair.A.Rows : userScale;

    /// <summary>Unmaps a standalone adapter file.</summary>
    public void Dispose() => _ownedFile?.Dispose();

    private static Dictionary<WeightMatrix, LoraPair> Bind(GgufFile file, string source, string prefix, TransformerModel model)
    {
        var targets = new Dictionary<string, WeightMatrix>(StringComparer.Ordinal);
        var w = model.Weights;
        foreach (var m in w.Layers.SelectMany(l => (WeightMatrix[])[l.Query, l.Key, l.Value, l.Output, l.Gate, l.Up, l.Down]).Append(w.Output))
            targets.TryAdd(m.Name, m);

        var binder = new TensorBinder(file, source);
        var pairs = new Dictionary<WeightMatrix, LoraPair>();
        var seen = 0;
        foreach (var t in file.Tensors)
        {
            if (!t.Name.StartsWith(prefix, StringComparison.Ordinal))
                continue;
            var name = t.Name[prefix.Length..];
            if (name.EndsWith("_norm.weight", StringComparison.Ordinal))
                continue;
            if (!name.EndsWith(".lora_a", StringComparison.Ordinal) && !name.EndsWith(".lora_b", StringComparison.Ordinal))
            {
                if (prefix.Length == 0)
                    throw new ModelLoadException($"{source}: tensor '{t.Name}' is neither a '.lora_a' nor a '.lora_b' tensor.");
                continue;
            }
            seen++;
            if (!name.EndsWith(".lora_a", StringComparison.Ordinal))
                continue;
            var target = name[..^".lora_a".Length];
            if (!targets.TryGetValue(target, out var baseWeight))
                throw new ModelLoadException($"{source}: tensor '{t.Name}' adapts '{target}', which the model does not have (or the engine cannot adapt).");
            var bName = prefix + target + ".lora_b";
            if (!file.TryGetTensor(bName, out var bInfo))
                throw new ModelLoadException($"{source}: tensor '{t.Name}' has no matching '{bName}'.");
            if (t.Dimensions.Count < 2 || bInfo.Dimensions.Count < 2)
                throw new ModelLoadException($"{source}: LoRA tensors of '{target}' must be matrices (got {t.ShapeText} and {bInfo.ShapeText}).");
            var rank = bInfo.Dimensions[0];
            if (t.Dimensions[1] != rank)
                throw new ModelLoadException($"{source}: '{t.Name}' has shape {t.ShapeText} but '{bName}' has {bInfo.ShapeText}: lora_a's rank ({t.Dimensions[1]}) differs from lora_b's ({rank}).");
            var a = binder.Matrix(t.Name, baseWeight.Cols, rank);
            var b = binder.Matrix(bName, rank, baseWeight.Rows);
            pairs[baseWeight] = new LoraPair(a, b);
        }
        if (seen != pairs.Count * 2)
            throw new ModelLoadException($"{source}: {seen} LoRA tensors for {pairs.Count} adapted weights; every '.lora_b' needs its '.lora_a'.");
        if (pairs.Count == 0)
            throw new ModelLoadException($"{source}: no LoRA tensors{(prefix.Length > 0 ? $" under '{prefix}'" : "")}.");
        return pairs;
    }

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Name} (alpha {Alpha}, {Pairs.Count} tensors)");
}

/// <summary>One adapted weight's matrices: A {n_in, r} (r rows of n_in) and B {r, n_out} (n_out rows of r).</summary>
internal sealed record LoraPair(WeightMatrix A, WeightMatrix B);

/// <summary>
/// The adapters one request runs with, each at a user scale: for every adapted base weight the terms to add after
/// W·x. Built once per (adapter, scale) choice and shared read-only by sessions.
/// </summary>
internal sealed class LoraSet
{
    private readonly Dictionary<WeightMatrix, LoraTerm[]> _terms;

    /// <summary>Combines <paramref name="adapters"/> (several adapters add their terms).</summary>
    public LoraSet(IReadOnlyList<(LoraAdapter Adapter, float Scale)> adapters)
    {
        ArgumentNullException.ThrowIfNull(adapters);
        Adapters = adapters;
        _terms = adapters
            .SelectMany(x => x.Adapter.Pairs.Select(p => (Weight: p.Key, Term: new LoraTerm(p.Value.A, p.Value.B, x.Adapter.ScaleFor(p.Value, x.Scale)))))
            .GroupBy(x => x.Weight)
            .ToDictionary(g => g.Key, g => g.Select(x => x.Term).ToArray());
        MaxRank = _terms.Values.SelectMany(t => t).Select(t => t.A.Rows).DefaultIfEmpty(0).Max();
    }

    /// <summary>The adapters and user scales.</summary>
    public IReadOnlyList<(LoraAdapter Adapter, float Scale)> Adapters { get; }

    /// <summary>Largest rank among the terms (scratch sizing).</summary>
    public int MaxRank { get; }

    /// <summary>The terms for <paramref name="weight"/>, or null when it is not adapted.</summary>
    public LoraTerm[]? TermsFor(WeightMatrix weight) => _terms.GetValueOrDefault(weight);
}

/// <summary>s·B(A·x) for one adapted weight.</summary>
internal sealed record LoraTerm(WeightMatrix A, WeightMatrix B, float Scale);
