namespace Hearth.Tests.Shared;

/// <summary>Locates the repository's test fixtures (tests/fixtures, a copy of ../shared/fixtures) and samples.</summary>
internal static class Fixtures
{
    private static readonly Lazy<string> RepoRootLazy = new(FindRepoRoot);

    public static string RepoRoot => RepoRootLazy.Value;

    public static string Root => Path.Combine(RepoRoot, "tests", "fixtures");

    public static string File(params string[] parts) => Path.Combine([Root, .. parts]);

    public static string Stories260K => Path.Combine(RepoRoot, "samples", "models", "stories260K.gguf");

    /// <summary>Every .gguf file under tests/fixtures, relative to it.</summary>
    public static IEnumerable<string> AllGguf() =>
        Directory.EnumerateFiles(Root, "*.gguf", SearchOption.AllDirectories)
            .Select(p => Path.GetRelativePath(Root, p))
            .Order(StringComparer.Ordinal);

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (System.IO.File.Exists(Path.Combine(dir.FullName, "Hearth.slnx")))
                return dir.FullName;
        }
        throw new InvalidOperationException("Cannot find the repository root (Hearth.slnx) above " + AppContext.BaseDirectory);
    }
}
