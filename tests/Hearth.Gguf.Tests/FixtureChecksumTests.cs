using System.Security.Cryptography;
using Hearth.Tests.Shared;

namespace Hearth.Gguf.Tests;

public class FixtureChecksumTests
{
    [Fact]
    public void EveryFixtureMatchesSha256Sums()
    {
        var lines = File.ReadAllLines(Fixtures.File("SHA256SUMS")).Where(l => l.Length > 0).ToList();
        Assert.True(lines.Count > 50, $"SHA256SUMS lists only {lines.Count} files");
        var mismatches = new List<string>();
        foreach (var line in lines)
        {
            var hash = line[..64];
            var name = line[64..].TrimStart(' ', '*');
            var path = Fixtures.File(name.Split('/'));
            if (!File.Exists(path))
            {
                mismatches.Add($"{name}: missing");
                continue;
            }
            using var fs = File.OpenRead(path);
            var actual = Convert.ToHexStringLower(SHA256.HashData(fs));
            if (actual != hash)
                mismatches.Add($"{name}: {actual} != {hash}");
        }
        Assert.Empty(mismatches);
    }

    [Fact]
    public void SampleModelIsTheFixtureModel()
    {
        Assert.Equal(File.ReadAllBytes(Fixtures.File("models", "stories260K.gguf")), File.ReadAllBytes(Fixtures.Stories260K));
    }
}
