namespace Hearth.Engine;

/// <summary>Facts about the engine build.</summary>
public static class EngineInfo
{
    /// <summary>Architectures the engine can run (filled in as they land).</summary>
    public static IReadOnlyList<string> SupportedArchitectures { get; } = ["llama", "qwen2", "qwen3"];
}
