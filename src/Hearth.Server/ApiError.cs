using System.Text.Json;
using System.Text.Json.Nodes;
using Hearth.Privacy;
using Hearth.Runtime;

namespace Hearth.Server;

/// <summary>A request error with its HTTP status, written in the caller's API dialect.</summary>
internal sealed class ApiException(int status, string message, string type = "invalid_request_error", string? param = null, string? code = null) : Exception(message)
{
    public int Status { get; } = status;

    public string Type { get; } = type;

    public string? Param { get; } = param;

    public string? Code { get; } = code;

    /// <summary>Seconds for a Retry-After header (429, 503).</summary>
    public int? RetryAfter { get; init; }

    public static ApiException BadRequest(string message, string? param = null) => new(400, message, "invalid_request_error", param);

    /// <summary>Maps what the runtime throws to a status and a message that names the problem.</summary>
    public static ApiException From(Exception ex) => ex switch
    {
        ApiException a => a,
        PolicyRefusedException p => new(403, p.Message, "policy_refused", "model", "policy_refused"),
        ModelUnavailableException { Transient: true } m => new(503, m.Message, "server_busy", "model", "model_busy") { RetryAfter = 5 },
        ModelUnavailableException m => new(404, m.Message, "invalid_request_error", "model", "model_not_found"),
        Privacy.EgressDeniedException e => new(403, e.Message, "egress_refused", null, "egress_refused"),
        ArgumentException a => new(400, a.Message, "invalid_request_error", WireName(a.ParamName)),
        JsonException j => new(400, "request body is not valid JSON: " + j.Message, "invalid_request_error"),
        HttpRequestException h => new(502, "upstream provider error: " + h.Message, "upstream_error", null, "upstream_error"),
        _ => new(500, "internal error: " + ex.Message, "server_error"),
    };

    // The engine names what it refuses by its own parameter names; the request called them this.
    private static string? WireName(string? engineName) => engineName switch
    {
        "format" => "response_format",
        "LogitBias" => "logit_bias",
        _ => engineName,
    };

    public JsonObject OpenAIBody() => new()
    {
        ["error"] = new JsonObject
        {
            ["message"] = Message,
            ["type"] = Type,
            ["param"] = Param,
            ["code"] = Code,
        },
    };

    public JsonObject OllamaBody() => new() { ["error"] = Message };
}
