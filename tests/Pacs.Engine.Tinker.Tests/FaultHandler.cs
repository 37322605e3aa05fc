using System.Net;
using System.Text;

namespace Pacs.Engine.Tinker.Tests;

/// <summary>Passes requests to the server, except for one planned fault at the n-th call of a route.</summary>
public sealed class FaultHandler(HttpMessageHandler inner) : DelegatingHandler(inner)
{
    public enum Fault
    {
        /// <summary>503 without reaching the server.</summary>
        ServerError,

        /// <summary>The request reaches the server, and the answer is lost (the client times out).</summary>
        TimeoutAfterServer,

        /// <summary>The connection drops before the server sees the request.</summary>
        ConnectionDropped,

        /// <summary>retrieve_future of this route's next future answers a request_failed body.</summary>
        FailedFuture,
    }

    private readonly Lock _gate = new();
    private readonly Dictionary<string, int> _calls = [];
    private bool _failNextRetrieve;

    public string Route { get; init; } = "";

    public int Call { get; init; } = 1;

    /// <summary>How many times the fault is repeated (a persistent 5xx: int.MaxValue).</summary>
    public int Times { get; init; } = 1;

    public Fault Kind { get; init; }

    public int Injected { get; private set; }

    /// <summary>Calls so far, by route.</summary>
    public IReadOnlyDictionary<string, int> Calls
    {
        get
        {
            lock (_gate) return new Dictionary<string, int>(_calls);
        }
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        string route = request.RequestUri!.AbsolutePath["/api/v1/".Length..];
        bool fault;
        lock (_gate)
        {
            int n = _calls[route] = _calls.GetValueOrDefault(route) + 1;
            fault = route == Route && n >= Call && Injected < Times;
            if (fault) Injected++;
            if (route == "retrieve_future" && _failNextRetrieve)
            {
                _failNextRetrieve = false;
                return Json(HttpStatusCode.OK, ScriptedHandler.Fixture("request_failed.json"));
            }
        }
        if (!fault) return await base.SendAsync(request, cancellationToken);
        switch (Kind)
        {
            case Fault.ServerError:
                return Json(HttpStatusCode.ServiceUnavailable, """{"detail": "overloaded"}""");
            case Fault.ConnectionDropped:
                throw new HttpRequestException("connection reset by peer");
            case Fault.TimeoutAfterServer:
                (await base.SendAsync(request, cancellationToken)).Dispose();
                throw new TaskCanceledException("the answer was lost");
            default:
                var answer = await base.SendAsync(request, cancellationToken);
                lock (_gate) _failNextRetrieve = true;
                return answer;
        }
    }

    private static HttpResponseMessage Json(HttpStatusCode code, string body) =>
        new(code) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
}
