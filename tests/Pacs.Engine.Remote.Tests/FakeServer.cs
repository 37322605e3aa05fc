using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Pacs.Engine.Remote.Tests;

/// <summary>
/// An in-process Kestrel server on a free loopback port whose every request goes to a handler; it records what it
/// was asked and refuses past a bounded number of requests. <see cref="Kill"/> stops it like a crashed process.
/// </summary>
public sealed class FakeServer : IAsyncDisposable
{
    public const int MaxRequests = 2000;

    private readonly WebApplication _app;
    private readonly List<(string Path, string Body)> _log = [];
    private int _inflight;

    private FakeServer(WebApplication app) => _app = app;

    public Uri Url { get; private set; } = null!;

    /// <summary>Most requests in flight at once so far.</summary>
    public int MaxConcurrent { get; private set; }

    public IReadOnlyList<(string Path, string Body)> Log
    {
        get
        {
            lock (_log) return [.. _log];
        }
    }

    public int Count(string path) => Log.Count(entry => entry.Path == path);

    /// <summary>Starts a server answering with <paramref name="handle"/>(context, parsed body, index of this request on the server).</summary>
    public static async Task<FakeServer> Start(Func<HttpContext, JsonNode?, int, Task> handle)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(options => options.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var server = new FakeServer(app);
        app.Run(context => server.Serve(context, handle));
        await app.StartAsync();
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.Url = new Uri(address.EndsWith('/') ? address : address + "/");
        return server;
    }

    private async Task Serve(HttpContext context, Func<HttpContext, JsonNode?, int, Task> handle)
    {
        string body = await new StreamReader(context.Request.Body).ReadToEndAsync();
        int index;
        lock (_log)
        {
            index = _log.Count;
            _log.Add((context.Request.Path.Value ?? "", body));
            MaxConcurrent = Math.Max(MaxConcurrent, ++_inflight);
        }
        try
        {
            if (index >= MaxRequests)
            {
                context.Response.StatusCode = 503;
                return;
            }
            await handle(context, body.Length > 0 ? JsonNode.Parse(body) : null, index);
        }
        finally
        {
            lock (_log) _inflight--;
        }
    }

    /// <summary>Drops the connection of the calling request and stops listening, as a crashed server would.</summary>
    public void Kill(HttpContext context)
    {
        context.Abort();
        _ = Task.Run(() => _app.StopAsync());
    }

    public static Task Json(HttpContext context, JsonNode body, int status = 200)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(body.ToJsonString());
    }

    public static Task Text(HttpContext context, string body, int status = 200)
    {
        context.Response.StatusCode = status;
        return context.Response.WriteAsync(body);
    }

    /// <summary>Waits as a hung server does, until the client gives up (bounded: 30 s).</summary>
    public static async Task Hang(HttpContext context)
    {
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(30), context.RequestAborted);
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
