using System.Globalization;
using System.Net;

namespace Hearth.Configuration;

/// <summary>Parsers and formatters for the scalar value kinds of <c>hearth.yaml</c>: sizes, durations, endpoints.</summary>
internal static class ConfigValues
{
    private static readonly (string Suffix, long Factor)[] SizeUnits =
    [
        ("TiB", 1L << 40), ("GiB", 1L << 30), ("MiB", 1L << 20), ("KiB", 1L << 10),
        ("TB", 1_000_000_000_000L), ("GB", 1_000_000_000L), ("MB", 1_000_000L), ("KB", 1_000L), ("kB", 1_000L),
        ("B", 1L),
    ];

    /// <summary>Parses <c>8GiB</c>, <c>512 MiB</c>, <c>1.5GB</c> or a plain byte count.</summary>
    public static bool TryParseSize(string text, out long bytes)
    {
        bytes = 0;
        var s = text.Trim();
        long factor = 1;
        foreach (var (suffix, f) in SizeUnits)
        {
            if (s.EndsWith(suffix, StringComparison.Ordinal))
            {
                factor = f;
                s = s[..^suffix.Length].TrimEnd();
                break;
            }
        }

        if (!double.TryParse(s, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number) || double.IsNaN(number))
            return false;
        var value = number * factor;
        if (value >= long.MaxValue)
            return false;
        bytes = (long)Math.Round(value);
        return true;
    }

    public static string FormatSize(long bytes)
    {
        foreach (var (suffix, f) in SizeUnits)
        {
            if (suffix.EndsWith("iB", StringComparison.Ordinal) && bytes >= f && bytes % f == 0)
                return string.Create(CultureInfo.InvariantCulture, $"{bytes / f}{suffix}");
        }

        return string.Create(CultureInfo.InvariantCulture, $"{bytes}B");
    }

    /// <summary>Parses durations such as <c>5m</c>, <c>30s</c>, <c>1h30m</c>, <c>90d</c>, <c>250ms</c>, or <c>0</c>.</summary>
    public static bool TryParseDuration(string text, out TimeSpan duration)
    {
        duration = TimeSpan.Zero;
        var s = text.Trim();
        if (s == "0")
            return true;
        if (s.Length == 0)
            return false;
        var total = 0.0;
        var i = 0;
        while (i < s.Length)
        {
            var start = i;
            while (i < s.Length && (char.IsAsciiDigit(s[i]) || s[i] == '.'))
                i++;
            if (i == start || !double.TryParse(s.AsSpan(start, i - start), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
                return false;
            var unitStart = i;
            while (i < s.Length && char.IsAsciiLetter(s[i]))
                i++;
            double ms = s[unitStart..i] switch
            {
                "ms" => 1,
                "s" => 1000,
                "m" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                "w" => 7 * 86_400_000.0,
                _ => double.NaN,
            };
            if (double.IsNaN(ms))
                return false;
            total += number * ms;
        }

        if (total > TimeSpan.MaxValue.TotalMilliseconds)
            return false;
        duration = TimeSpan.FromMilliseconds(total);
        return true;
    }

    public static string FormatDuration(TimeSpan t)
    {
        if (t == TimeSpan.Zero)
            return "0";
        if (t.TotalDays >= 1 && t.Ticks % TimeSpan.TicksPerDay == 0)
            return string.Create(CultureInfo.InvariantCulture, $"{t.Ticks / TimeSpan.TicksPerDay}d");
        if (t.Ticks % TimeSpan.TicksPerHour == 0)
            return string.Create(CultureInfo.InvariantCulture, $"{t.Ticks / TimeSpan.TicksPerHour}h");
        if (t.Ticks % TimeSpan.TicksPerMinute == 0)
            return string.Create(CultureInfo.InvariantCulture, $"{t.Ticks / TimeSpan.TicksPerMinute}m");
        if (t.Ticks % TimeSpan.TicksPerSecond == 0)
            return string.Create(CultureInfo.InvariantCulture, $"{t.Ticks / TimeSpan.TicksPerSecond}s");
        return string.Create(CultureInfo.InvariantCulture, $"{t.TotalMilliseconds}ms");
    }

    /// <summary>Parses an endpoint: an absolute http(s) URL with a host. The path is kept but the guard matches scheme, host and port.</summary>
    public static bool TryParseEndpoint(string text, out Uri? uri, out string? problem)
    {
        problem = null;
        if (!Uri.TryCreate(text.Trim(), UriKind.Absolute, out uri))
        {
            problem = "not an absolute URL";
            return false;
        }

        if (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)
        {
            problem = $"scheme '{uri.Scheme}' is not http or https";
            return false;
        }

        if (uri.Host.Length == 0)
        {
            problem = "no host";
            return false;
        }

        if (uri.UserInfo.Length > 0)
        {
            problem = "credentials in the URL are not allowed; use api_key_env";
            return false;
        }

        return true;
    }

    /// <summary>True when <paramref name="host"/> is <c>localhost</c> or a loopback IP literal.</summary>
    public static bool IsLoopbackHost(string host)
    {
        var h = host.Trim('[', ']');
        if (h.Equals("localhost", StringComparison.OrdinalIgnoreCase))
            return true;
        return IPAddress.TryParse(h, out var ip) && IPAddress.IsLoopback(ip);
    }
}

/// <summary>Shared endpoint classification used by the options types and the privacy layer.</summary>
internal static class EndpointRules
{
    public static bool IsLoopbackHost(string host) => ConfigValues.IsLoopbackHost(host);
}
