using Hearth.Gguf;

namespace Hearth.Engine.Model;

/// <summary>
/// Hearth's bundle: one GGUF holding a base model, per-domain LoRA adapters (tensors <c>lora.DOMAIN.TARGET.lora_a/b</c>)
/// and the router's domain configuration under <c>hearth.bundle.*</c> keys. The base tensors and keys are unchanged,
/// so the file is still the base model for anything that ignores the extra keys and tensors.
/// </summary>
internal static class BundleFormat
{
    /// <summary>Format version key (u32); its presence marks a bundle.</summary>
    public const string VersionKey = "hearth.bundle.version";

    /// <summary>Current format version.</summary>
    public const uint Version = 1;

    /// <summary>String array: the domain names, in order.</summary>
    public const string DomainsKey = "hearth.bundle.domains";

    /// <summary>Longest tensor name ggml accepts (GGML_MAX_NAME − 1).</summary>
    public const int MaxTensorName = 63;

    /// <summary>Key of a per-domain value: <c>hearth.bundle.domain.NAME.FIELD</c>.</summary>
    public static string DomainKey(string domain, string field) => $"hearth.bundle.domain.{domain}.{field}";

    /// <summary>Tensor-name prefix of a domain's adapter.</summary>
    public static string TensorPrefix(string domain) => $"lora.{domain}.";

    /// <summary>Whether <paramref name="file"/> is a bundle.</summary>
    public static bool IsBundle(GgufFile file) => file.Metadata.ContainsKey(VersionKey);

    /// <summary>Whether <paramref name="domain"/> carries adapter tensors (else the base model answers it).</summary>
    public static bool HasAdapter(GgufFile file, string domain)
    {
        var prefix = TensorPrefix(domain);
        return file.Tensors.Any(t => t.Name.StartsWith(prefix, StringComparison.Ordinal));
    }

    /// <summary>The domains a bundle declares (empty for a plain model).</summary>
    public static IReadOnlyList<string> Domains(GgufFile file) =>
        file.Metadata.GetArray(DomainsKey)?.GetStrings() ?? [];
}
