using System.Reflection;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Hearth.Server;

/// <summary>
/// The local chat page (<c>/chat</c>; a browser asking for <c>/</c> is sent there): one HTML page, its script and style sheet, built into the server.
/// It calls only this server (relative URLs) and its Content-Security-Policy forbids everything else — no script, style,
/// font, image or connection from anywhere but this origin, no framing, no form posts — so a browser on it sends
/// nothing off the machine. The files carry no data and are served without an API key; the page asks for the key
/// when the API wants one.
/// </summary>
internal static class WebChat
{
    /// <summary>The page's policy: this origin only, and only for scripts, styles, images and API calls.</summary>
    public const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    private static readonly (string Path, string File, string ContentType)[] Files =
    [
        ("/chat", "chat.html", "text/html; charset=utf-8"),
        ("/chat.js", "chat.js", "text/javascript; charset=utf-8"),
        ("/chat.css", "chat.css", "text/css; charset=utf-8"),
    ];

    /// <summary>Whether <paramref name="path"/> is one of the page's files (served without an API key).</summary>
    public static bool IsPagePath(PathString path) => Files.Any(f => path.Equals(f.Path, StringComparison.Ordinal));

    public static void Map(WebApplication app)
    {
        foreach (var (path, file, type) in Files)
        {
            var content = Read(file);
            app.MapGet(path, (HttpContext http) =>
            {
                var h = http.Response.Headers;
                h.ContentSecurityPolicy = ContentSecurityPolicy;
                h.XContentTypeOptions = "nosniff";
                h["Referrer-Policy"] = "no-referrer";
                h.CacheControl = "no-cache";
                return Results.Bytes(content, type);
            });
        }
    }

    private static byte[] Read(string file)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("Hearth.Server.Web." + file)
            ?? throw new InvalidOperationException($"The chat page file {file} is missing from the server assembly.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
