using System.Text.Json.Nodes;

namespace Pacs.Serve;

/// <summary>
/// A request that cannot be served, answered as OpenAI's error object
/// <c>{"error": {"message", "type", "param", "code"}}</c> with <see cref="Status"/>.
/// </summary>
public sealed class ApiError(int status, string message, string? param = null, string? code = null) : Exception(message)
{
    public int Status { get; } = status;

    public string? Param { get; } = param;

    public string? Code { get; } = code;

    public static ApiError BadRequest(string message, string? param = null) => new(400, message, param, "invalid_request");

    public string Type => Status switch
    {
        401 => "authentication_error",
        404 => "not_found_error",
        413 => "request_too_large",
        503 => "server_overloaded",
        >= 500 => "server_error",
        _ => "invalid_request_error",
    };

    public static JsonObject Body(int status, string message, string type, string? param, string? code) => new()
    {
        ["error"] = new JsonObject
        {
            ["message"] = message,
            ["type"] = type,
            ["param"] = param,
            ["code"] = code,
        },
    };

    public JsonObject ToJson() => Body(Status, Message, Type, Param, Code);
}
