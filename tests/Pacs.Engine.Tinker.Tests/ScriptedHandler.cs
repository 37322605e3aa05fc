using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace Pacs.Engine.Tinker.Tests;

/// <summary>
/// A Tinker server replayed from recorded bodies: each queued route answers `untyped_future.json` and the next
/// retrieve_future answers that route's recorded result. Every request body is kept, by route, for comparison.
/// </summary>
internal sealed class ScriptedHandler : HttpMessageHandler
{
    private static readonly Dictionary<string, string> s_results = new()
    {
        ["create_model"] = "create_model_result.json",
        ["forward"] = "forward_result.json",
        ["forward_backward"] = "forward_backward_result.json",
        ["optim_step"] = "optim_step_result.json",
        ["save_weights"] = "save_weights_result.json",
        ["load_weights"] = "load_weights_result.json",
        ["save_weights_for_sampler"] = "save_weights_for_sampler_result.json",
        ["asample"] = "sample_result.json",
    };

    private string? _pending;

    /// <summary>Result files by route that replace the defaults above (e.g. a built-in loss's forward_backward).</summary>
    public Dictionary<string, string> Results { get; init; } = [];

    /// <summary>retrieve_future answers this file once before each result (e.g. try_again.json).</summary>
    public string? BeforeEachResult { get; init; }

    private bool _answeredBefore;

    public List<(string Route, JsonNode Body)> Requests { get; } = [];

    public static string Fixture(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "fixtures", name));

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        string route = request.RequestUri!.AbsolutePath["/api/v1/".Length..];
        var body = JsonNode.Parse(await request.Content!.ReadAsStringAsync(cancellationToken))!;
        lock (Requests) Requests.Add((route, body));
        string answer = route switch
        {
            "create_session" => Fixture("create_session_response.json"),
            "session_heartbeat" => """{"type": "session_heartbeat"}""",
            "retrieve_future" => Retrieve(),
            _ => Queue(route),
        };
        return new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent(answer, Encoding.UTF8, "application/json") };
    }

    private string Queue(string route)
    {
        _pending = Results.GetValueOrDefault(route) ?? s_results[route];
        _answeredBefore = false;
        return Fixture("untyped_future.json");
    }

    private string Retrieve()
    {
        if (BeforeEachResult is { } before && !_answeredBefore)
        {
            _answeredBefore = true;
            return Fixture(before);
        }
        return Fixture(_pending ?? throw new InvalidOperationException("retrieve_future before any queued request"));
    }
}
