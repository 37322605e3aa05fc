using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;

namespace Pacs.Serve.Tests;

public class ErrorTests
{
    private static void AssertError(JsonNode? body, string? param = null)
    {
        var error = body!["error"]!;
        Assert.False(string.IsNullOrEmpty(error["message"]!.GetValue<string>()));
        Assert.False(string.IsNullOrEmpty(error["type"]!.GetValue<string>()));
        Assert.True(error.AsObject().ContainsKey("param") && error.AsObject().ContainsKey("code"));
        if (param is not null) Assert.Equal(param, error["param"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("{\"prompt\": [1, 2", null)]
    [InlineData("[1, 2]", null)]
    [InlineData("{\"prompt\": [1], \"max_tokens\": \"ten\"}", "max_tokens")]
    [InlineData("{\"prompt\": [1], \"temperature\": -1}", "temperature")]
    [InlineData("{\"prompt\": [1], \"top_p\": 0}", "top_p")]
    [InlineData("{\"prompt\": [1], \"n\": 0}", "n")]
    [InlineData("{\"prompt\": [1, 99999]}", "prompt")]
    [InlineData("{\"prompt\": []}", "prompt")]
    [InlineData("{\"prompt\": {\"a\": 1}}", "prompt")]
    [InlineData("{\"max_tokens\": 3}", "prompt")]
    [InlineData("{\"prompt\": [1], \"stream\": \"yes\"}", "stream")]
    [InlineData("{\"prompt\": [1], \"stop_token_ids\": [-1]}", "stop_token_ids")]
    public async Task BadCompletionRequestsAre400WithAnErrorObject(string json, string? param)
    {
        await using var host = await ServeHost.Start();
        var (status, body, _) = await host.Post("/v1/completions", json);
        Assert.Equal(400, status);
        AssertError(body, param);
    }

    [Theory]
    [InlineData("/generate", "{\"sampling_params\": {\"max_new_tokens\": 2}}", "input_ids")]
    [InlineData("/generate", "{\"input_ids\": [1], \"sampling_params\": {\"max_new_tokens\": -2}}", "sampling_params.max_new_tokens")]
    [InlineData("/generate", "{\"input_ids\": [1], \"sampling_params\": []}", "sampling_params")]
    [InlineData("/v1/chat/completions", "{\"messages\": \"hi\"}", "messages")]
    [InlineData("/update_weights_from_disk", "{}", "model_path")]
    public async Task BadBodiesOnOtherRoutesAre400(string route, string json, string param)
    {
        await using var host = await ServeHost.Start();
        var (status, body, _) = await host.Post(route, json);
        Assert.Equal(400, status);
        AssertError(body, param);
    }

    [Fact]
    public async Task UnknownModelIs404AndUnknownRouteIs404()
    {
        await using var host = await ServeHost.Start();
        var (status, body, _) = await host.Post("/v1/completions", "{\"model\": \"gpt-9\", \"prompt\": [1]}");
        Assert.Equal(404, status);
        AssertError(body, "model");
        Assert.Equal("model_not_found", body!["error"]!["code"]!.GetValue<string>());
        var (routeStatus, routeBody, _) = await host.Post("/v1/embeddings", "{}");
        Assert.Equal(404, routeStatus);
        AssertError(routeBody);
    }

    [Fact]
    public async Task OversizedBodyIs413()
    {
        await using var host = await ServeHost.Start(new ServeOptions { MaxBodyBytes = 1024 });
        string json = "{\"prompt\": [" + string.Join(",", Enumerable.Repeat("1", 2000)) + "]}";
        var (status, body, _) = await host.Post("/v1/completions", json);
        Assert.Equal(413, status);
        AssertError(body);
    }

    [Fact]
    public async Task WithAnApiKeyRequestsWithoutItAre401AndHealthStaysOpen()
    {
        await using var host = await ServeHost.Start(new ServeOptions { ApiKey = "s3cret" });
        var (status, body, _) = await host.Post("/v1/completions", "{\"prompt\": [1], \"max_tokens\": 1}");
        Assert.Equal(401, status);
        AssertError(body);
        Assert.Equal(401, (await host.Post("/v1/completions", "{\"prompt\": [1], \"max_tokens\": 1}", apiKey: "wrong")).Status);
        Assert.Equal(200, (await host.Post("/v1/completions", "{\"prompt\": [1], \"max_tokens\": 1}", apiKey: "s3cret")).Status);
        Assert.Equal("ok", (await host.Get("/health"))["status"]!.GetValue<string>());
        var models = await host.OpenAi("s3cret").GetOpenAIModelClient().GetModelsAsync();
        Assert.Single(models.Value);
    }

    [Fact]
    public async Task PastTheQueueBoundRequestsAre503WithRetryAfter()
    {
        await using var host = await ServeHost.Start(new ServeOptions { MaxBatch = 1, MaxQueue = 1 });
        await host.Post("/pause_generation", "{}");
        var queued = host.Post("/v1/completions", "{\"prompt\": [1], \"max_tokens\": 2}");
        await host.WaitFor(s => s.Queued == 1, "one queued sequence");
        var (status, body, response) = await host.Post("/v1/completions", "{\"prompt\": [1], \"max_tokens\": 2}");
        Assert.Equal(503, status);
        AssertError(body);
        Assert.Equal("1", response.Headers.RetryAfter!.ToString());
        await host.Post("/continue_generation", "{}");
        Assert.Equal(200, (await queued).Status);
    }

    [Fact]
    public async Task ChatWithoutATemplateIs400()
    {
        var model = ServedModel.Load(ServeHost.RepoPath("models", ServeHost.ModelId));
        var app = ServeApp.Build(model, new ServeOptions(), b => b.WebHost.UseTestServer());
        await app.StartAsync();
        try
        {
            using var http = app.GetTestClient();
            var response = await http.PostAsync("/v1/chat/completions", new StringContent("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}", Encoding.UTF8, "application/json"));
            Assert.Equal(400, (int)response.StatusCode);
            Assert.Contains("chat template", await response.Content.ReadAsStringAsync());
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }
}
