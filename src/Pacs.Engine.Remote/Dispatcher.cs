using System.Net.Http.Headers;
using System.Text;
using Microsoft.Extensions.Http.Resilience;
using Polly;

namespace Pacs.Engine.Remote;

/// <summary>
/// Sends a JSON request to the servers and returns the body of the first successful answer. Retries (connection
/// errors, timeouts, 429 and 5xx, with exponential back-off and jitter, honouring Retry-After) come from
/// Microsoft.Extensions.Http.Resilience's HTTP strategies, not a hand-written loop; each attempt picks its server
/// anew from the <see cref="ServerPool"/>, so a request that failed on one server is retried on another. At most
/// `max_inflight` attempts are in flight at once.
/// </summary>
public sealed class Dispatcher : IDisposable
{
    private readonly HttpClient _http;
    private readonly ServerPool _pool;
    private readonly SemaphoreSlim _inflight;
    private readonly ResiliencePipeline<HttpResponseMessage> _pipeline;
    private readonly int _maxAttempts;

    public Dispatcher(RemoteOptions options, ServerPool pool)
    {
        _pool = pool;
        _http = new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) }) { Timeout = Timeout.InfiniteTimeSpan };
        if (options.ApiKey.Length > 0) _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", options.ApiKey);
        _inflight = new SemaphoreSlim(options.MaxInflight);
        _maxAttempts = options.MaxRetries + 1;
        var builder = new ResiliencePipelineBuilder<HttpResponseMessage>();
        if (options.MaxRetries > 0)
        {
            builder.AddRetry(new HttpRetryStrategyOptions
            {
                MaxRetryAttempts = options.MaxRetries,
                Delay = options.RetryDelay,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                ShouldRetryAfterHeader = true,
            });
        }
        // Inside the retry: each attempt has its own timeout.
        builder.AddTimeout(new HttpTimeoutStrategyOptions { Timeout = options.RequestTimeout });
        _pipeline = builder.Build();
    }

    public ServerPool Pool => _pool;

    /// <summary>
    /// POSTs <paramref name="json"/> to <paramref name="path"/> on the least loaded server (or on <paramref name="only"/>)
    /// and hands the successful body to <paramref name="read"/>; a failure after the retry budget, or a body
    /// <paramref name="read"/> rejects, throws <see cref="RemoteRolloutException"/> naming the server and <paramref name="what"/>.
    /// </summary>
    public async Task<T> PostAsync<T>(string path, string json, string what, Func<string, T> read, CancellationToken cancel, int? only = null)
    {
        var tried = new HashSet<int>();
        int server = -1, attempts = 0;
        HttpResponseMessage response;
        try
        {
            response = await _pipeline.ExecuteAsync(async token =>
            {
                server = only is { } fixedServer ? _pool.Acquire(fixedServer) : _pool.Acquire(tried);
                tried.Add(server);
                attempts++;
                bool ok = false;
                await _inflight.WaitAsync(token);
                try
                {
                    using var message = new HttpRequestMessage(HttpMethod.Post, new Uri(_pool.Servers[server], path))
                    {
                        Content = new StringContent(json, Encoding.UTF8, "application/json"),
                    };
                    var answer = await _http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, token);
                    await answer.Content.LoadIntoBufferAsync(token);
                    ok = answer.IsSuccessStatusCode;
                    return answer;
                }
                finally
                {
                    _inflight.Release();
                    _pool.Release(server, ok);
                }
            }, cancel);
        }
        catch (Exception e) when (e is HttpRequestException or TimeoutException or Polly.Timeout.TimeoutRejectedException)
        {
            throw new RemoteRolloutException($"{what}: {Server(server)} did not answer after {attempts} attempt(s) on {tried.Count} server(s) (rollout.max_retries={_maxAttempts - 1}): {e.Message}", e);
        }
        using (response)
        {
            string body = await response.Content.ReadAsStringAsync(cancel);
            if (!response.IsSuccessStatusCode)
                throw new RemoteRolloutException($"{what}: {Server(server)} answered {(int)response.StatusCode} {response.ReasonPhrase} to {path} (after {attempts} attempt(s), rollout.max_retries={_maxAttempts - 1}): {Wire.WireJson.Snippet(body)}");
            try
            {
                return read(body);
            }
            catch (InvalidDataException e)
            {
                throw new RemoteRolloutException($"{what}: {Server(server)} returned a body from {path} that is not a valid answer: {e.Message}", e);
            }
        }
    }

    private string Server(int server) => server < 0 ? "no server" : $"server {_pool.Servers[server]}";

    public void Dispose()
    {
        _http.Dispose();
        _inflight.Dispose();
    }
}
