using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Pacs.Serve;

/// <summary>
/// `pacs serve`: an OpenAI-compatible (and SGLang-compatible) HTTP server over one model, with continuous batching.
/// <see cref="Build"/> makes the app; tests host it in process (TestServer) through <paramref name="configure"/>.
/// </summary>
public static class ServeApp
{
    public static WebApplication Build(ServedModel model, ServeOptions options, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = options.DrainTimeout);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = options.MaxBodyBytes;
            Listen(k, options.Host, options.Port);
        });
        var scheduler = new BatchScheduler(model.Model, options.MaxBatch, options.MaxQueue);
        builder.Services.AddSingleton(model);
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(scheduler);
        configure?.Invoke(builder);
        var app = builder.Build();

        // SIGTERM (or StopApplication): refuse new work, let the running sequences finish, then stop.
        var lifetime = app.Services.GetRequiredService<IHostApplicationLifetime>();
        lifetime.ApplicationStopping.Register(() => scheduler.DrainAsync().Wait(options.DrainTimeout));
        lifetime.ApplicationStopped.Register(scheduler.Dispose);

        app.Use(Errors);
        app.Use((context, next) => Authorize(context, next, options.ApiKey));
        Endpoints.Map(app, model, scheduler, options);
        return app;
    }

    private static void Listen(KestrelServerOptions kestrel, string host, int port)
    {
        if (host == "localhost") kestrel.ListenLocalhost(port);
        else if (IPAddress.TryParse(host, out var address)) kestrel.Listen(address, port);
        else throw new ArgumentException($"--host must be an IP address or localhost, got '{host}'");
    }

    /// <summary>Turns a failed request into OpenAI's error object with its status.</summary>
    private static async Task Errors(HttpContext context, Func<Task> next)
    {
        try
        {
            await next();
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client left; its sequences were cancelled and freed.
        }
        catch (Exception e) when (!context.Response.HasStarted)
        {
            var error = e switch
            {
                ApiError api => api,
                ServerBusyException busy => new ApiError(503, busy.Message, code: "overloaded"),
                Microsoft.AspNetCore.Http.BadHttpRequestException bad when bad.StatusCode == 413 => new ApiError(413, $"the request body is larger than the limit", code: "request_too_large"),
                Microsoft.AspNetCore.Http.BadHttpRequestException bad => new ApiError(bad.StatusCode, bad.Message),
                ArgumentException arg => ApiError.BadRequest(arg.Message),
                _ => new ApiError(500, $"{e.GetType().Name}: {e.Message}", code: "internal_error"),
            };
            if (error.Status == 503) context.Response.Headers.RetryAfter = "1";
            await WriteJson(context, error.ToJson(), error.Status);
        }
    }

    private static Task Authorize(HttpContext context, Func<Task> next, string? apiKey)
    {
        if (apiKey is null || context.Request.Path == "/health") return next();
        string header = context.Request.Headers.Authorization.ToString();
        const string Bearer = "Bearer ";
        bool ok = header.StartsWith(Bearer, StringComparison.OrdinalIgnoreCase)
            && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(header[Bearer.Length..].Trim()), Encoding.UTF8.GetBytes(apiKey));
        if (ok) return next();
        throw new ApiError(401, "a valid API key is needed: send 'Authorization: Bearer <key>'", code: "invalid_api_key");
    }

    internal static async Task WriteJson(HttpContext context, JsonNode body, int status = 200)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(body.ToJsonString(), context.RequestAborted);
    }

    /// <summary>The request body, at most the configured size (else 413), parsed as a JSON object (else 400).</summary>
    internal static async Task<RequestBody> ReadBody(HttpContext context, ServeOptions options)
    {
        if (context.Request.ContentLength > options.MaxBodyBytes) throw TooLarge(options);
        using var buffer = new MemoryStream();
        var chunk = new byte[64 * 1024];
        int read;
        while ((read = await context.Request.Body.ReadAsync(chunk, context.RequestAborted)) > 0)
        {
            buffer.Write(chunk, 0, read);
            if (buffer.Length > options.MaxBodyBytes) throw TooLarge(options);
        }
        return RequestBody.Parse(buffer.ToArray());
    }

    private static ApiError TooLarge(ServeOptions options) =>
        new(413, $"the request body is larger than {options.MaxBodyBytes} bytes", code: "request_too_large");
}
