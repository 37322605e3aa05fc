using Pacs.Engine.Remote.Wire;

namespace Pacs.Engine.Remote.Tests;

/// <summary>Request bodies and the parsing of recorded response bodies, written to the servers' documented field names.</summary>
public class WireFormatTests
{
    private static readonly SamplingParams Sampling = SamplingParams.Of(1f, maxTokens: 4, stopTokenIds: [151645], topP: 0.9f, topK: 20);

    private static string Fixture(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "fixtures", name));

    [Fact]
    public void Vllm_completion_choices_are_read_in_index_order_with_token_ids_and_log_probs()
    {
        var samples = new CompletionsWire("m", supportsN: true).Parse(Fixture("vllm_completion_n2.json"), 2, Sampling);
        Assert.Equal([717, 488, 220, 18], samples[0].Ids);
        Assert.Equal([-1.2f, -0.0001f, -2.5f, -0.7f], samples[0].LogProbs);
        Assert.Equal(FinishReason.Length, samples[0].Finish);
        Assert.Equal([22, 151645], samples[1].Ids);
        Assert.Equal([-0.40546f, -0.01005f], samples[1].LogProbs);
        Assert.Equal(FinishReason.Stop, samples[1].Finish);
    }

    [Fact]
    public void Vllm_without_token_ids_reads_them_from_token_id_strings_and_a_short_length_finish_is_the_context()
    {
        var sample = new CompletionsWire("", supportsN: false).Parse(Fixture("vllm_completion_token_strings.json"), 1, Sampling).Single();
        Assert.Equal([24, 2], sample.Ids);
        Assert.Equal([-0.5f, -0.25f], sample.LogProbs);
        Assert.Equal(FinishReason.ContextLimit, sample.Finish);
    }

    [Fact]
    public void Sglang_generate_is_one_object_or_a_list_of_n()
    {
        var wire = new SglangWire(supportsN: true, fullSeed: false);
        var single = wire.Parse(Fixture("sglang_generate_single.json"), 1, Sampling).Single();
        Assert.Equal([22, 151645], single.Ids);
        Assert.Equal([-0.40546f, -0.01005f], single.LogProbs);
        Assert.Equal(FinishReason.Stop, single.Finish);
        var two = wire.Parse(Fixture("sglang_generate_n2.json"), 2, Sampling);
        Assert.Equal([717, 488, 220, 18], two[0].Ids);
        Assert.Equal(FinishReason.Length, two[0].Finish);
        Assert.Equal([151645], two[1].Ids);
        Assert.Equal([-3f], two[1].LogProbs);
    }

    [Fact]
    public void Request_bodies_carry_token_ids_and_every_sampling_setting_under_the_servers_names()
    {
        var request = new RolloutRequest([1, 2, 3], 0xF000_0000_0000_0007UL, Sampling);
        var vllm = new CompletionsWire("Qwen/Qwen3-0.6B", supportsN: true).Body(request, 8);
        Assert.Equal("""{"model":"Qwen/Qwen3-0.6B","prompt":[1,2,3],"n":8,"max_tokens":4,"temperature":1,"top_p":0.9,"top_k":20,"seed":8646911284551352323,"stop_token_ids":[151645],"logprobs":1,"return_token_ids":true,"return_tokens_as_token_ids":true,"stream":false}""",
            vllm.ToJsonString());
        var sglang = new SglangWire(supportsN: true, fullSeed: false).Body(request, 8);
        Assert.Equal("""{"input_ids":[1,2,3],"sampling_params":{"max_new_tokens":4,"temperature":1,"top_p":0.9,"top_k":20,"n":8,"stop_token_ids":[151645],"sampling_seed":8646911284551352323},"return_logprob":true,"stream":false}""",
            sglang.ToJsonString());
        var pacs = new SglangWire(supportsN: false, fullSeed: true).Body(request, 1);
        Assert.Equal(17293822569102704647UL, pacs["sampling_params"]!["sampling_seed"]!.GetValue<ulong>());
        Assert.Equal(-1, new SglangWire(true, false).Body(request with { Sampling = SamplingParams.Of(1f, 4, []) }, 1)["sampling_params"]!["top_k"]!.GetValue<int>());
    }

    [Theory]
    [InlineData("{\"choices\": [", "malformed JSON")]
    [InlineData("{\"id\": \"x\"}", "response.choices is missing")]
    [InlineData("{\"choices\": []}", "response.choices has 0 samples, 1 were asked for")]
    [InlineData("{\"choices\": [{\"finish_reason\": \"stop\", \"token_ids\": [1, 2], \"logprobs\": {\"token_logprobs\": [-1.0]}}]}", "2 token ids but 1 log-probs")]
    [InlineData("{\"choices\": [{\"finish_reason\": \"stop\", \"token_ids\": [1], \"logprobs\": null}]}", "response.choices[0].logprobs is missing")]
    [InlineData("{\"choices\": [{\"finish_reason\": \"length\", \"token_ids\": [1,1,1,1,1], \"logprobs\": {\"token_logprobs\": [-1,-1,-1,-1,-1]}}]}", "5 tokens, more than the 4 asked for")]
    [InlineData("{\"choices\": [{\"finish_reason\": \"stop\", \"token_ids\": [1], \"logprobs\": {\"token_logprobs\": [0.5]}}]}", "is not a log-prob: 0.5")]
    [InlineData("{\"choices\": [{\"finish_reason\": \"abort\", \"token_ids\": [1], \"logprobs\": {\"token_logprobs\": [-1]}}]}", "finish reason 'abort'")]
    [InlineData("{\"choices\": [{\"finish_reason\": \"stop\", \"logprobs\": {\"token_logprobs\": [-1], \"tokens\": [\"7\"]}}]}", "is not 'token_id:N'")]
    public void Bad_completion_bodies_are_rejected_naming_the_field(string body, string expected)
    {
        var e = Assert.Throws<InvalidDataException>(() => new CompletionsWire("", supportsN: true).Parse(body, 1, Sampling));
        Assert.Contains(expected, e.Message);
    }

    [Theory]
    [InlineData("[{\"output_ids\": [1], \"meta_info\": {\"finish_reason\": {\"type\": \"stop\"}, \"output_token_logprobs\": [[-1.0, 1, null]]}}]", 2, "response has 1 samples, 2 were asked for")]
    [InlineData("{\"output_ids\": [1, 2], \"meta_info\": {\"finish_reason\": {\"type\": \"stop\"}, \"output_token_logprobs\": [[-1.0, 1, null]]}}", 1, "2 token ids but 1 log-probs")]
    [InlineData("{\"output_ids\": [1], \"meta_info\": {\"finish_reason\": {\"type\": \"stop\"}, \"output_token_logprobs\": [[-1.0, 2, null]]}}", 1, "output_ids[0] is 1 but output_token_logprobs[0] scores token 2")]
    [InlineData("{\"output_ids\": [1], \"meta_info\": {\"finish_reason\": {\"type\": \"stop\"}}}", 1, "response.meta_info.output_token_logprobs is missing")]
    [InlineData("{\"output_ids\": [1], \"meta_info\": {\"output_token_logprobs\": [[-1.0, 1, null]]}}", 1, "response.meta_info.finish_reason is missing")]
    [InlineData("{\"output_ids\": [1], \"meta_info\": {\"finish_reason\": {\"type\": \"stop\"}, \"output_token_logprobs\": [[-1.0, 1, null]]}}", 2, "response is one sample, 2 were asked for")]
    public void Bad_generate_bodies_are_rejected_naming_the_field(string body, int n, string expected)
    {
        var e = Assert.Throws<InvalidDataException>(() => new SglangWire(supportsN: true, fullSeed: false).Parse(body, n, Sampling));
        Assert.Contains(expected, e.Message);
    }
}
