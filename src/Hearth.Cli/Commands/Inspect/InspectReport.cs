using System.Text.Json.Serialization;
using Hearth.Engine.Model;
using Hearth.Gguf;

namespace Hearth.Cli.Commands.Inspect;

/// <summary>The JSON shape of <c>hearth inspect --json</c>. Field names are a stable interface (README: "inspect --json").</summary>
internal sealed record InspectReport(
    string File,
    long FileSize,
    uint GgufVersion,
    string? Architecture,
    string? Name,
    string? Kind,
    string? FileType,
    int TensorCount,
    long Parameters,
    long TensorBytes,
    IReadOnlyList<InspectQuantShare> Quantization,
    long? ContextLength,
    long? BlockCount,
    long? EmbeddingLength,
    long? FeedForwardLength,
    long? HeadCount,
    long? HeadCountKv,
    long? HeadDim,
    long? VocabSize,
    string? TokenizerModel,
    string? TokenizerPre,
    bool ChatTemplate,
    InspectMemory Memory,
    IReadOnlyList<InspectTensor>? Tensors,
    IReadOnlyList<InspectBundleDomain>? BundleDomains,
    InspectSplit? Split = null)
{
    public static InspectReport From(string path, GgufFile file, long? context, bool withTensors)
    {
        var s = GgufSummary.From(file, context);
        return new InspectReport(
            path, s.FileSize, s.Version, s.Architecture, s.Name, s.Kind, s.FileType, s.TensorCount, s.ParameterCount, s.TensorBytes,
            [.. s.Quantization.Select(q => new InspectQuantShare(q.Type, q.Tensors, q.Bytes, Math.Round(q.Share, 6)))],
            s.ContextLength, s.BlockCount, s.EmbeddingLength, s.FeedForwardLength, s.HeadCount, s.HeadCountKv, s.HeadDim,
            s.VocabSize, s.TokenizerModel, s.TokenizerPre, s.HasChatTemplate,
            new InspectMemory(s.EstimateContext, "f16", s.TensorBytes, s.KvCacheBytes, s.EstimatedMemoryBytes),
            withTensors
                ? [.. file.Tensors.Select(t => new InspectTensor(t.Name, [.. t.Dimensions], GgmlTypeTraits.Get(t.Type).Name, t.ByteSize, t.FileOffset))]
                : null,
            BundleFormat.IsBundle(file) ? [.. BundleFormat.Domains(file).Select(d => InspectBundleDomain.From(file, d))] : null,
            InspectSplit.From(file));
    }
}

/// <summary>A part of a split model (gguf-split): which part, how many, and what the other parts hold (the other
/// fields of the report describe this part alone).</summary>
internal sealed record InspectSplit(int Part, int Count, int OtherTensors, long OtherBytes, IReadOnlyList<string> OtherFiles)
{
    public static InspectSplit? From(GgufFile file)
    {
        var count = file.Metadata.GetInteger(SplitParts.CountKey) ?? 1;
        if (count <= 1)
            return null;
        var number = file.Metadata.GetInteger(SplitParts.NumberKey) ?? 0;
        if (count > SplitParts.MaxParts || number < 0 || number >= count)
            throw new ModelLoadException($"{file.Path}: {SplitParts.NumberKey} = {number} and {SplitParts.CountKey} = {count} do not describe a part of a split model.");
        if (number != 0)
            return new InspectSplit((int)number + 1, (int)count, 0, 0, []);
        using var rest = SplitParts.OpenRest(file); // errors name a missing or foreign part
        return new InspectSplit(1, (int)count, rest.TensorCount, rest.TensorBytes, [.. rest.Files.Select(p => p.Path!)]);
    }
}

/// <summary>One domain of a Hearth bundle: router configuration and its adapter (none: the base model answers).</summary>
internal sealed record InspectBundleDomain(string Name, string? Description, string? Policy, bool Empathetic, int Examples,
    string? Adapter, int AdapterTensors, long AdapterBytes, float? Alpha, float? Scale)
{
    public static InspectBundleDomain From(GgufFile file, string domain)
    {
        var md = file.Metadata;
        string Key(string field) => BundleFormat.DomainKey(domain, field);
        var prefix = BundleFormat.TensorPrefix(domain);
        var tensors = file.Tensors.Where(t => t.Name.StartsWith(prefix, StringComparison.Ordinal)).ToList();
        return new InspectBundleDomain(domain, md.GetString(Key("description")), md.GetString(Key("policy")),
            md.GetBool(Key("empathetic")) ?? false, md.GetArray(Key("examples"))?.Count ?? 0,
            md.GetString(Key("adapter")), tensors.Count, tensors.Sum(t => t.ByteSize), md.GetSingle(Key("alpha")), md.GetSingle(Key("scale")));
    }
}

/// <summary>One tensor type's share of the weights.</summary>
internal sealed record InspectQuantShare(string Type, int Tensors, long Bytes, double Share);

/// <summary>Memory estimate: weights (mapped) plus KV cache at <c>Context</c> tokens.</summary>
internal sealed record InspectMemory(long Context, string KvType, long WeightsBytes, long KvCacheBytes, long TotalBytes);

/// <summary>One tensor: shape in ggml order (row length first).</summary>
internal sealed record InspectTensor(string Name, IReadOnlyList<long> Shape, string Type, long Bytes, long Offset);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[JsonSerializable(typeof(InspectReport))]
internal sealed partial class InspectJsonContext : JsonSerializerContext;
