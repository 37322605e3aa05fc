using System.ClientModel;
using System.ClientModel.Primitives;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using OpenAI;

namespace Pacs.Serve.Tests;

/// <summary>`pacs serve` hosted in process (TestServer) over stories260K with a small chat template added.</summary>
internal sealed class ServeHost : IAsyncDisposable
{
    public const string ModelId = "stories260K";

    private static readonly Lazy<string> s_modelDir = new(MakeModelDir);

    public WebApplication App { get; }
    public HttpClient Http { get; }
    public ServedModel Model { get; }
    public BatchScheduler Scheduler => App.Services.GetRequiredService<BatchScheduler>();

    private ServeHost(WebApplication app, ServedModel model)
    {
        App = app;
        Model = model;
        Http = app.GetTestClient();
    }

    public static async Task<ServeHost> Start(ServeOptions? options = null)
    {
        var model = ServedModel.Load(ModelDir);
        var app = ServeApp.Build(model, options ?? new ServeOptions(), b => b.WebHost.UseTestServer());
        await app.StartAsync();
        return new ServeHost(app, model);
    }

    /// <summary>A copy of models/stories260K whose tokenizer_config.json has a chat template (the original has none).</summary>
    public static string ModelDir => s_modelDir.Value;

    public static string RepoPath(params string[] parts)
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Pacs.sln"))) dir = dir.Parent;
        return Path.Combine([dir?.FullName ?? throw new InvalidOperationException("Pacs.sln not found"), .. parts]);
    }

    private static string MakeModelDir()
    {
        string dir = Path.Combine(Path.GetTempPath(), "pacs-serve-tests-" + Guid.NewGuid().ToString("N")[..10], ModelId);
        Directory.CreateDirectory(dir);
        foreach (var file in Directory.GetFiles(RepoPath("models", ModelId))) File.Copy(file, Path.Combine(dir, Path.GetFileName(file)));
        string configPath = Path.Combine(dir, "tokenizer_config.json");
        var config = JsonNode.Parse(File.ReadAllText(configPath))!.AsObject();
        config["chat_template"] = "{{ bos_token }}{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}";
        File.WriteAllText(configPath, config.ToJsonString());
        return dir;
    }

    /// <summary>The official OpenAI .NET client, talking to the in-process server.</summary>
    public OpenAIClient OpenAi(string apiKey = "unused") => new(new ApiKeyCredential(apiKey), new OpenAIClientOptions
    {
        Endpoint = new Uri(Http.BaseAddress!, "/v1"),
        Transport = new HttpClientPipelineTransport(Http),
        RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
    });

    public async Task<(int Status, JsonNode? Body, HttpResponseMessage Response)> Post(string path, string json, string? apiKey = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        if (apiKey is not null) request.Headers.Authorization = new("Bearer", apiKey);
        var response = await Http.SendAsync(request);
        string text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text), response);
    }

    public Task<(int Status, JsonNode? Body, HttpResponseMessage Response)> Post(string path, object body) => Post(path, JsonSerializer.Serialize(body));

    public async Task<JsonNode> Get(string path) => JsonNode.Parse(await Http.GetStringAsync(path))!;

    /// <summary>Waits (bounded) until the scheduler's stats satisfy a condition: queued or cancelled counts change
    /// on the decode thread, after the HTTP call that caused them has returned or been sent.</summary>
    public async Task WaitFor(Func<SchedulerStats, bool> condition, string what)
    {
        for (int i = 0; i < 600; i++)
        {
            if (condition(Scheduler.Stats)) return;
            await Task.Delay(50);
        }
        throw new TimeoutException($"timed out waiting for {what}: {Scheduler.Stats}");
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
    }
}
