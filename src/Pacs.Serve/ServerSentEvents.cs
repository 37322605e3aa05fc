using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace Pacs.Serve;

/// <summary>A text/event-stream response: one `data: {json}` event per chunk, then `data: [DONE]`, as OpenAI streams.</summary>
internal sealed class ServerSentEvents
{
    private readonly HttpContext _context;

    private ServerSentEvents(HttpContext context) => _context = context;

    public static async Task<ServerSentEvents> Start(HttpContext context)
    {
        context.Response.StatusCode = 200;
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        await context.Response.StartAsync(context.RequestAborted);
        return new ServerSentEvents(context);
    }

    public async Task Send(JsonNode chunk)
    {
        await _context.Response.WriteAsync("data: " + chunk.ToJsonString() + "\n\n", _context.RequestAborted);
        await _context.Response.Body.FlushAsync(_context.RequestAborted);
    }

    public async Task Done()
    {
        await _context.Response.WriteAsync("data: [DONE]\n\n", _context.RequestAborted);
        await _context.Response.Body.FlushAsync(_context.RequestAborted);
    }
}
