using System.Collections;

namespace Hearth.Tests.Shared;

/// <summary>
/// Test configurations never name the public model hubs: the Hugging Face and Ollama base URLs (whose defaults are
/// huggingface.co and registry.ollama.ai) point at loopback port 9, where nothing answers. A bug that sent a test to
/// "the hub" therefore fails with a refused loopback connection instead of reaching the internet. Tests that speak a
/// hub protocol set their own loopback server's URL, which takes precedence.
/// </summary>
internal static class OfflineSources
{
    /// <summary>Stands for huggingface.co in tests.</summary>
    public static readonly Uri HuggingFaceUrl = new("http://127.0.0.1:9/huggingface/");

    /// <summary>Stands for registry.ollama.ai in tests.</summary>
    public static readonly Uri OllamaRegistryUrl = new("http://127.0.0.1:9/ollama/");

    /// <summary>A copy of <paramref name="environment"/> with the two base URLs set (as <c>HEARTH_MODELS__…</c>
    /// overrides) unless it sets them already.</summary>
    public static Hashtable Apply(IDictionary? environment)
    {
        var env = environment is null ? new Hashtable() : new Hashtable(environment);
        if (!env.ContainsKey("HEARTH_MODELS__HUGGINGFACE_URL"))
            env["HEARTH_MODELS__HUGGINGFACE_URL"] = HuggingFaceUrl.ToString();
        if (!env.ContainsKey("HEARTH_MODELS__OLLAMA_REGISTRY_URL"))
            env["HEARTH_MODELS__OLLAMA_REGISTRY_URL"] = OllamaRegistryUrl.ToString();
        return env;
    }
}
