using System.Net;
using System.Text;
using System.Text.Json;

namespace Pacs.Engine.Tinker;

/// <summary>Where the Tinker server is and how patient to be with it.</summary>
/// <param name="BaseUrl">The server root (https://..., or http://127.0.0.1:PORT for `pacs serve --tinker`).</param>
/// <param name="ApiKey">Sent as X-API-Key (the SDK's header); null sends none.</param>
/// <param name="BaseModel">The service's name of the base model.</param>
/// <param name="LoraRank">Rank of the LoRA adapter create_model asks for; 0 asks for none (a full fine-tune, where the server allows it).</param>
/// <param name="Retries">Attempts after the first for a 408/429/5xx, a timeout or a dropped connection.</param>
/// <param name="RetryDelay">First back-off; doubled each retry (the SDK: 1 s doubling to 30 s).</param>
/// <param name="RequestTimeout">One HTTP call's limit.</param>
/// <param name="FuturePolls">Most polls of one future (retrieve_future answering try_again) before giving up.</param>
/// <param name="HeartbeatInterval">Session heartbeat period (the SDK's: 10 s); zero disables the timer.</param>
/// <param name="LoraSeed">lora_config.seed: the adapter's initialisation (null: the server picks).</param>
public sealed record TinkerOptions(string BaseUrl, string? ApiKey, string BaseModel, int LoraRank = 32, int Retries = 5,
    TimeSpan? RetryDelay = null, TimeSpan? RequestTimeout = null, int FuturePolls = 100_000, TimeSpan? HeartbeatInterval = null, ulong? LoraSeed = null)
{
    public TimeSpan Delay => RetryDelay ?? TimeSpan.FromSeconds(1);

    public TimeSpan Timeout => RequestTimeout ?? TimeSpan.FromSeconds(120);

    public TimeSpan Heartbeat => HeartbeatInterval ?? TimeSpan.FromSeconds(10);
}

/// <summary>
/// One client session with a Tinker server: POSTs with retries (lib/internal_client_holder.py execute_with_retries:
/// 408, 409, 429, 5xx, timeouts, connection errors), futures polled through /api/v1/retrieve_future
/// (lib/api_future_impl.py: try_again and 408/5xx poll again, an `error` body fails naming the request), and the
/// session heartbeat (internal_client_holder.py _session_heartbeat). A session the server dropped fails every later
/// call: a step is never silently skipped.
/// </summary>
public sealed class TinkerConnection : IDisposable
{
    private readonly HttpClient _http;
    private readonly Timer? _heartbeat;
    private string? _lostReason;
    private int _modelSeq;
    private int _samplingSeq;

    public TinkerConnection(TinkerOptions options, HttpMessageHandler? handler = null)
    {
        Options = options;
        _http = handler is null ? new HttpClient() : new HttpClient(handler, disposeHandler: false);
        _http.BaseAddress = new Uri(options.BaseUrl.TrimEnd('/') + "/");
        _http.Timeout = System.Threading.Timeout.InfiniteTimeSpan;
        if (options.ApiKey is { Length: > 0 } key) _http.DefaultRequestHeaders.Add("X-API-Key", key);
        var session = Post<CreateSessionResponse>("api/v1/create_session", new CreateSessionRequest([], new() { ["client"] = "pacs" }, "pacs"), "create_session");
        if (session.ErrorMessage is { Length: > 0 } error) throw new TinkerException($"tinker create_session at {options.BaseUrl}: {error}");
        SessionId = session.SessionId;
        if (options.Heartbeat > TimeSpan.Zero) _heartbeat = new Timer(_ => Heartbeat(), null, options.Heartbeat, options.Heartbeat);
    }

    public TinkerOptions Options { get; }

    public string SessionId { get; }

    public int NextModelSeq() => Interlocked.Increment(ref _modelSeq) - 1;

    public int NextSamplingSeq() => Interlocked.Increment(ref _samplingSeq) - 1;

    /// <summary>One heartbeat; a 4xx (the server no longer knows the session) marks it lost.</summary>
    public void Heartbeat()
    {
        if (_lostReason is not null) return;
        try
        {
            using var response = Send("api/v1/session_heartbeat", TinkerJson.Write(new SessionHeartbeatRequest(SessionId)));
            if ((int)response.StatusCode is >= 400 and < 500)
                _lostReason = $"heartbeat answered HTTP {(int)response.StatusCode}: {Body(response)}";
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            // A missed heartbeat is retried on the next tick, as the SDK does; the server decides when the session is gone.
        }
    }

    /// <summary>Throws when the session was dropped; called before every request.</summary>
    public void ThrowIfLost(string what)
    {
        if (_lostReason is { } reason)
            throw new TinkerException($"tinker session {SessionId} was dropped by the server ({reason}); {what} was not sent. Resume the run (pacs train --resume RUN) to continue from its last checkpoint");
    }

    /// <summary>POSTs a request that returns a future, and waits for its result.</summary>
    public T Call<T>(string route, object body, string what)
    {
        var future = Post<UntypedApiFuture>(route, body, what);
        return Await<T>(future.RequestId, what);
    }

    /// <summary>POSTs <paramref name="body"/> with retries; a 4xx other than 408/409/429 fails naming the route and the server's message.</summary>
    public T Post<T>(string route, object body, string what)
    {
        ThrowIfLost(what);
        string json = TinkerJson.Write(body);
        for (int attempt = 0; ; attempt++)
        {
            string failure;
            try
            {
                using var response = Send(route, json);
                int code = (int)response.StatusCode;
                if (response.IsSuccessStatusCode) return TinkerJson.Read<T>(Body(response), $"tinker {what}");
                failure = $"HTTP {code}: {Body(response)}";
                if (!Retryable(response.StatusCode)) throw Lost(code, failure) ?? new TinkerException($"tinker {what} ({route}) failed: {failure}");
            }
            catch (TaskCanceledException)
            {
                failure = $"no answer within {Options.Timeout.TotalSeconds:0.#} s";
            }
            catch (HttpRequestException e)
            {
                failure = $"connection error: {e.Message}";
            }
            if (attempt >= Options.Retries) throw new TinkerException($"tinker {what} ({route}) failed after {attempt + 1} attempts: {failure}");
            Thread.Sleep(Backoff(attempt));
        }
    }

    /// <summary>Polls a future until it is done (lib/api_future_impl.py _result_async).</summary>
    public T Await<T>(string requestId, string what)
    {
        string label = $"{what} (request {requestId})";
        for (int poll = 0; poll < Options.FuturePolls; poll++)
        {
            var result = Post<JsonElement>("api/v1/retrieve_future", new FutureRetrieveRequest(requestId), label);
            if (result.ValueKind != JsonValueKind.Object) throw new TinkerException($"tinker {label}: retrieve_future answered {result.ValueKind}, not an object");
            if (result.TryGetProperty("type", out var type) && type.ValueEquals("try_again")) continue;
            if (result.TryGetProperty("error", out var error))
            {
                string category = result.TryGetProperty("category", out var c) ? c.ToString() : "unknown";
                throw new TinkerException($"tinker {label} failed on the server ({category}): {error}");
            }
            return TinkerJson.Read<T>(result.GetRawText(), $"tinker {label}");
        }
        throw new TinkerException($"tinker {label}: still pending after {Options.FuturePolls} polls");
    }

    private HttpResponseMessage Send(string route, string json)
    {
        using var cancel = new CancellationTokenSource(Options.Timeout);
        using var content = new StringContent(json, Encoding.UTF8, "application/json");
        return _http.PostAsync(route, content, cancel.Token).GetAwaiter().GetResult();
    }

    private static string Body(HttpResponseMessage response) => response.Content.ReadAsStringAsync().GetAwaiter().GetResult();

    private static bool Retryable(HttpStatusCode code) => (int)code is 408 or 409 or 429 or >= 500;

    /// <summary>A 404/410 about the session itself: the session is gone, and so is every later call.</summary>
    private TinkerException? Lost(int code, string failure)
    {
        if (code is not (404 or 410) || !failure.Contains("session", StringComparison.OrdinalIgnoreCase)) return null;
        _lostReason = failure;
        return new TinkerException($"tinker session {SessionId} was dropped by the server ({failure}). Resume the run (pacs train --resume RUN) to continue from its last checkpoint");
    }

    private TimeSpan Backoff(int attempt) => TimeSpan.FromTicks(Math.Min(Options.Delay.Ticks << Math.Min(attempt, 5), TimeSpan.FromSeconds(30).Ticks));

    public void Dispose()
    {
        _heartbeat?.Dispose();
        _http.Dispose();
    }
}
