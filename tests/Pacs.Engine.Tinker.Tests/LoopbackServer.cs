using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace Pacs.Engine.Tinker.Tests;

/// <summary>`pacs serve --tinker`'s server over the managed engine: in process (a TestServer), or on a 127.0.0.1 port.</summary>
internal sealed class LoopbackServer : IDisposable
{
    private readonly WebApplication _app;

    public LoopbackServer(string modelDir, string stateDir, bool socket = false, int tryAgainPolls = 0, int keptFutures = 4096)
    {
        Server = new TinkerServer(ManagedBackend.Instance, new TinkerServerOptions(modelDir, "base", stateDir, tryAgainPolls, keptFutures));
        _app = Server.Build(builder =>
        {
            if (socket) builder.WebHost.UseUrls("http://127.0.0.1:0");
            else builder.WebHost.UseTestServer();
        });
        _app.StartAsync().GetAwaiter().GetResult();
        Url = socket ? _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single() : "http://localhost";
    }

    public TinkerServer Server { get; }

    public string Url { get; }

    /// <summary>The in-process handler (TestServer only); a socket server is reached through <see cref="Url"/>.</summary>
    public HttpMessageHandler Handler => _app.GetTestServer().CreateHandler();

    public static TinkerOptions Options(string url, TimeSpan? heartbeat = null) =>
        new(url, null, "base", LoraRank: 0, Retries: 3, RetryDelay: TimeSpan.Zero, HeartbeatInterval: heartbeat ?? TimeSpan.Zero);

    public void Dispose() => _app.DisposeAsync().AsTask().GetAwaiter().GetResult();
}
