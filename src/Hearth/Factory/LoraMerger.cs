using System.Runtime.InteropServices;
using Hearth.Engine.Kernels;
using Hearth.Gguf;

namespace Hearth.Factory;

/// <summary>One adapted weight of a LoRA adapter: <c>W + s·B·A</c>.</summary>
/// <param name="Target">Base tensor name (<c>blk.0.attn_q.weight</c>).</param>
/// <param name="A">The <c>.lora_a</c> tensor, ggml shape {n_in, r}.</param>
/// <param name="B">The <c>.lora_b</c> tensor, ggml shape {r, n_out}.</param>
internal sealed record LoraPair(string Target, GgufTensorInfo A, GgufTensorInfo B)
{
    /// <summary>The rank (B's ne0).</summary>
    public int Rank => (int)B.Dimensions[0];
}

/// <summary>A GGUF LoRA adapter in llama.cpp's format (<c>general.type = adapter</c>, <c>adapter.type = lora</c>).</summary>
internal sealed class LoraAdapter : IDisposable
{
    private LoraAdapter(GgufFile file, string path, float alpha, IReadOnlyList<LoraPair> pairs)
    {
        File = file;
        Path = path;
        Alpha = alpha;
        Pairs = pairs;
    }

    /// <summary>The open adapter file.</summary>
    public GgufFile File { get; }

    /// <summary>Its path.</summary>
    public string Path { get; }

    /// <summary><c>adapter.lora.alpha</c> (0 when missing, as llama.cpp reads it).</summary>
    public float Alpha { get; }

    /// <summary>The adapted weights, in file order.</summary>
    public IReadOnlyList<LoraPair> Pairs { get; }

    /// <summary>The factor applied to B·A for a user scale: <c>scale·alpha/rank</c>, or the scale itself without alpha.</summary>
    public float EffectiveScale(LoraPair pair, float userScale) => Alpha != 0 ? (float)((double)userScale * Alpha / pair.Rank) : userScale;

    /// <summary>
    /// Reads an adapter and checks it against <paramref name="baseModel"/> as llama.cpp does when loading one: the
    /// keys, the tensor names, both halves present, the base tensor present and the shapes
    /// (W {n_in, n_out}, A {n_in, r}, B {r, n_out}). The caller disposes the adapter.
    /// </summary>
    /// <exception cref="InvalidDataException">The adapter is malformed or does not fit the base; the message names the tensor or key.</exception>
    public static LoraAdapter Open(string path, GgufFile baseModel)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(baseModel);
        var file = GgufFile.Open(path);
        try
        {
            var name = System.IO.Path.GetFileName(path);
            var md = file.Metadata;
            if (md.Type != "adapter")
                throw new InvalidDataException($"{name}: general.type is '{md.Type ?? "(missing)"}', expected 'adapter'.");
            var kind = md.GetString("adapter.type");
            if (kind != "lora")
                throw new InvalidDataException($"{name}: adapter.type is '{kind ?? "(missing)"}', expected 'lora'.");
            if (md.Architecture != baseModel.Metadata.Architecture)
                throw new InvalidDataException($"{name}: adapter architecture '{md.Architecture}' does not match the base model's '{baseModel.Metadata.Architecture}'.");
            var alpha = md.GetSingle("adapter.lora.alpha") ?? 0f;

            var halves = new Dictionary<string, (GgufTensorInfo? A, GgufTensorInfo? B)>(StringComparer.Ordinal);
            var order = new List<string>();
            foreach (var t in file.Tensors)
            {
                string target;
                bool isA;
                if (t.Name.EndsWith(".lora_a", StringComparison.Ordinal))
                    (target, isA) = (t.Name[..^".lora_a".Length], true);
                else if (t.Name.EndsWith(".lora_b", StringComparison.Ordinal))
                    (target, isA) = (t.Name[..^".lora_b".Length], false);
                else if (t.Name.EndsWith("_norm.weight", StringComparison.Ordinal))
                    continue;
                else
                    throw new InvalidDataException($"{name}: tensor '{t.Name}' is neither a .lora_a nor a .lora_b tensor.");
                if (!halves.TryGetValue(target, out var h))
                    order.Add(target);
                halves[target] = isA ? (t, h.B) : (h.A, t);
            }

            var pairs = new List<LoraPair>();
            foreach (var target in order)
            {
                var (a, b) = halves[target];
                if (a is null || b is null)
                    throw new InvalidDataException($"{name}: '{target}' has only its {(a is null ? "lora_b" : "lora_a")} tensor.");
                foreach (var t in new[] { a, b })
                {
                    if (t.Type is not (GgmlType.F32 or GgmlType.F16 or GgmlType.BF16))
                        throw new InvalidDataException($"{name}: tensor '{t.Name}' is {GgmlTypeTraits.Get(t.Type).Name}; merging needs F32, F16 or BF16 adapter tensors.");
                    if (QuantizeMix.DimensionCount(t.Dimensions) > 2)
                        throw new InvalidDataException($"{name}: tensor '{t.Name}' has shape {t.ShapeText}; LoRA tensors are 2-D.");
                }
                if (!baseModel.TryGetTensor(target, out var w))
                    throw new InvalidDataException($"{name}: base tensor '{target}' (adapted by '{a.Name}') is not in the base model.");
                if (target == "token_embd.weight")
                    throw new InvalidDataException($"{name}: adapters on token_embd.weight are not supported by merge.");
                long nIn = w.Dimensions[0], nOut = w.Dimensions.Count > 1 ? w.Dimensions[1] : 1;
                long aIn = a.Dimensions[0], aR = a.Dimensions.Count > 1 ? a.Dimensions[1] : 1;
                long bR = b.Dimensions[0], bOut = b.Dimensions.Count > 1 ? b.Dimensions[1] : 1;
                if (QuantizeMix.DimensionCount(w.Dimensions) > 2 || aIn != nIn || bOut != nOut)
                    throw new InvalidDataException($"{name}: shapes do not match base tensor '{target}' {w.ShapeText}: lora_a {a.ShapeText} needs ne0 = {nIn}, lora_b {b.ShapeText} needs ne1 = {nOut}.");
                if (aR != bR)
                    throw new InvalidDataException($"{name}: '{target}': lora_a {a.ShapeText} and lora_b {b.ShapeText} disagree on the rank (lora_a tensor is not transposed?).");
                pairs.Add(new LoraPair(target, a, b));
            }
            if (pairs.Count == 0)
                throw new InvalidDataException($"{name}: the adapter has no lora_a/lora_b tensors.");
            return new LoraAdapter(file, path, alpha, pairs);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Closes the adapter file.</summary>
    public void Dispose() => File.Dispose();

    /// <summary>A tensor of the adapter as float32 (F16/BF16 widened).</summary>
    public float[] ReadFloats(GgufTensorInfo t)
    {
        var values = new float[t.ElementCount];
        GgmlDequantize.Dequantize(t.Type, File.GetTensorData(t), values);
        return values;
    }
}

/// <summary>What a merge wrote.</summary>
/// <param name="Merged">Base tensors that received the adapter, with the scale applied.</param>
/// <param name="TensorCount">Tensors in the output.</param>
/// <param name="OutputFileSize">Bytes written.</param>
internal sealed record MergeResult(IReadOnlyList<(string Tensor, float Scale)> Merged, int TensorCount, long OutputFileSize);

/// <summary>
/// <c>llama-export-lora</c> in managed code: merges a LoRA adapter into a base model, <c>W' = W + s·B·A</c>, with
/// the same float32 arithmetic (per element, a fused multiply-add over the rank in ascending order, then one multiply
/// by s and one add) and the same file layout: the base's metadata in order with <c>general.file_type</c> = 1
/// moved to the end, tensors in name order, merged tensors F32 when the base tensor is F32 and F16 otherwise,
/// every other tensor copied unchanged.
/// </summary>
internal static class LoraMerger
{
    /// <summary>Merges <paramref name="adapterPath"/> at <paramref name="userScale"/> into <paramref name="basePath"/>, writing <paramref name="outputPath"/>.</summary>
    /// <exception cref="InvalidDataException">The adapter does not fit the base; the message names the tensor.</exception>
    public static MergeResult Merge(string basePath, string adapterPath, float userScale, string outputPath, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(basePath);
        ArgumentException.ThrowIfNullOrEmpty(adapterPath);
        ArgumentException.ThrowIfNullOrEmpty(outputPath);
        if (!float.IsFinite(userScale))
            throw new ArgumentOutOfRangeException(nameof(userScale), userScale, "The scale must be a finite number.");
        using var baseModel = GgufFile.Open(basePath);
        ModelQuantizer.RefuseSplit(baseModel, "merge");
        using var adapter = LoraAdapter.Open(adapterPath, baseModel);
        var pairs = adapter.Pairs.ToDictionary(p => p.Target, StringComparer.Ordinal);

        var writer = new GgufWriter();
        foreach (var kv in baseModel.Metadata)
            writer.SetMetadata(kv.Key, kv.Value);
        writer.RemoveMetadata("general.file_type");
        writer.SetMetadata("general.file_type", GgufValue.FromUInt32(1));

        var merged = new List<(string, float)>();
        foreach (var w in baseModel.Tensors.OrderBy(t => t.Name, StringComparer.Ordinal))
        {
            if (!pairs.TryGetValue(w.Name, out var pair))
            {
                writer.AddTensor(baseModel, w);
                continue;
            }
            var scale = adapter.EffectiveScale(pair, userScale);
            merged.Add((w.Name, scale));
            var outType = w.Type == GgmlType.F32 ? GgmlType.F32 : GgmlType.F16;
            writer.AddTensor(w.Name, outType, w.Dimensions, stream =>
            {
                cancellationToken.ThrowIfCancellationRequested();
                var values = MergeTensor(baseModel, w, adapter, pair, scale);
                var bytes = new byte[GgmlTypeTraits.Get(outType).RowBytes(values.Length)];
                GgmlQuantize.Quantize(outType, values, bytes);
                stream.Write(bytes);
            });
        }
        writer.WriteTo(outputPath);
        return new MergeResult(merged, baseModel.Tensors.Count, new FileInfo(outputPath).Length);
    }

    /// <summary>W + s·B·A for one tensor, as float32 values in W's layout.</summary>
    public static float[] MergeTensor(GgufFile baseModel, GgufTensorInfo w, LoraAdapter adapter, LoraPair pair, float scale)
    {
        ArgumentNullException.ThrowIfNull(baseModel);
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(adapter);
        ArgumentNullException.ThrowIfNull(pair);
        var nIn = (int)w.Dimensions[0];
        var nOut = (int)(w.ElementCount / nIn);
        var r = pair.Rank;
        var values = new float[w.ElementCount];
        if (w.Type == GgmlType.F32)
            MemoryMarshal.Cast<byte, float>(baseModel.GetTensorData(w)).CopyTo(values);
        else
            GgmlDequantize.Dequantize(w.Type, baseModel.GetTensorData(w), values);
        var a = adapter.ReadFloats(pair.A); // [r][n_in]
        var b = adapter.ReadFloats(pair.B); // [n_out][r]
        Parallel.For(0, nOut, j =>
        {
            var row = values.AsSpan(j * nIn, nIn);
            var bj = b.AsSpan(j * r, r);
            for (var i = 0; i < nIn; i++)
            {
                var acc = 0f;
                for (var k = 0; k < r; k++)
                    acc = MathF.FusedMultiplyAdd(bj[k], a[k * nIn + i], acc);
                row[i] = acc * scale + row[i];
            }
        });
        return values;
    }
}
