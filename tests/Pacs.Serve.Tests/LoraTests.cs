using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Pacs.Models;

namespace Pacs.Serve.Tests;

/// <summary>Runtime LoRA adapters on `pacs serve`: loading one changes the served tokens exactly as the local adapter model's.</summary>
public sealed class LoraTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "pacs-serve-lora-" + Guid.NewGuid().ToString("N")[..10]);

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    /// <summary>A rank-4 adapter on q_proj and down_proj whose B factors are random, so it changes the output.</summary>
    private static LoraAdapter RandomAdapter(Transformer model, int seed)
    {
        var config = new LoraConfig(4, 8, 0, LoraTargets.Parse("q_proj,down_proj", "test"));
        var adapter = LoraAdapter.Create(model, config, 1);
        var random = new Random(seed);
        foreach (var (name, p) in adapter.Parameters)
            if (name.Contains("lora_B", StringComparison.Ordinal))
                for (int i = 0; i < p.Data.Length; i++) p.Data[i] = (float)(random.NextDouble() - 0.5);
        return adapter;
    }

    private static object Request(string? loraPath = null) => new
    {
        input_ids = new[] { 1, 5 },
        lora_path = loraPath,
        sampling_params = new { max_new_tokens = 10, temperature = 1.0, sampling_seed = 3, ignore_eos = true },
    };

    private static int[] Generate(Transformer model) => new Generator(model)
        .Generate(new GenerationRequest([1, 5], 3), new SamplingOptions(Temperature: 1, MaxNewTokens: 10, StopTokenIds: [])).Tokens;

    /// <summary>vLLM's route answers success in plain text.</summary>
    private static async Task<int> VllmStatus(ServeHost host, object body)
    {
        using var response = await host.Http.PostAsJsonAsync("/v1/load_lora_adapter", body);
        return (int)response.StatusCode;
    }

    private static int[] Ints(JsonNode? node) => [.. node!.AsArray().Select(n => n!.GetValue<int>())];

    [Fact]
    public async Task A_loaded_adapter_samples_as_the_local_adapter_model_and_replaces_in_place()
    {
        await using var host = await ServeHost.Start();
        var local = Transformer.Load(ServeHost.ModelDir);
        int[] baseTokens = Generate(local);
        string first = Path.Combine(_dir, "a1"), second = Path.Combine(_dir, "a2");
        var adapter1 = RandomAdapter(local, 1);
        var adapter2 = RandomAdapter(local, 2);
        PeftAdapter.Save(adapter1, first, ServeHost.ModelDir);
        PeftAdapter.Save(adapter2, second, ServeHost.ModelDir);

        var (status, result, _) = await host.Post("/load_lora_adapter", new { lora_name = "policy", lora_path = first });
        Assert.Equal(200, status);
        Assert.True(result!["success"]!.GetValue<bool>());
        local.Adapter = adapter1;
        int[] adapted = Generate(local);
        Assert.NotEqual(baseTokens, adapted);
        Assert.Equal(adapted, Ints((await host.Post("/generate", Request("policy"))).Body!["output_ids"]));
        var models = (await host.Get("/v1/models"))["data"]!.AsArray();
        Assert.Equal([ServeHost.ModelId, "policy"], models.Select(m => m!["id"]!.GetValue<string>()));
        Assert.Equal(first, models[1]!["root"]!.GetValue<string>());

        // The same name again replaces it in place (SGLang's route; vLLM's needs load_inplace); the OpenAI route picks it by model.
        Assert.Equal(200, (await host.Post("/load_lora_adapter", new { lora_name = "policy", lora_path = second })).Status);
        local.Adapter = adapter2;
        int[] replaced = Generate(local);
        Assert.NotEqual(adapted, replaced);
        var completion = await host.Post("/v1/completions", new { model = "policy", prompt = new[] { 1, 5 }, max_tokens = 10, temperature = 1.0, seed = 3, ignore_eos = true, return_token_ids = true });
        Assert.Equal(200, completion.Status);
        Assert.Equal(replaced, Ints(completion.Body!["choices"]![0]!["token_ids"]));
        Assert.Equal(400, await VllmStatus(host, new { lora_name = "policy", lora_path = first }));
        Assert.Equal(200, await VllmStatus(host, new { lora_name = "policy", lora_path = first, load_inplace = true }));
        Assert.Equal(adapted, Ints((await host.Post("/generate", Request())).Body!["output_ids"]));

        // One adapter at a time: the base by name, another adapter, and an unknown lora_path are refused clearly.
        var baseByName = await host.Post("/v1/completions", new { model = ServeHost.ModelId, prompt = new[] { 1 }, max_tokens = 1 });
        Assert.Equal(400, baseByName.Status);
        Assert.Contains("every request runs with it", baseByName.Body!["error"]!["message"]!.GetValue<string>());
        var other = await host.Post("/load_lora_adapter", new { lora_name = "other", lora_path = second });
        Assert.Equal(400, other.Status);
        Assert.Contains("one at a time", other.Body!["error_message"]!.GetValue<string>());
        Assert.Equal(404, (await host.Post("/generate", Request("other"))).Status);

        // Unloading returns to the base; a bad folder is a 400 naming it and changes nothing.
        Assert.Equal(200, (await host.Post("/unload_lora_adapter", new { lora_name = "policy" })).Status);
        Assert.Equal(baseTokens, Ints((await host.Post("/generate", Request())).Body!["output_ids"]));
        var bad = await host.Post("/load_lora_adapter", new { lora_name = "policy", lora_path = first + "-missing" });
        Assert.Equal(400, bad.Status);
        Assert.Contains("lora_path", bad.Body!["error_message"]!.GetValue<string>());
        Assert.Null(host.Model.Adapter);
    }
}
