using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace Pacs.Serve;

/// <summary>
/// POST /v1/completions and /v1/chat/completions: OpenAI's request and response bodies, with vLLM's extra fields
/// (top_k, stop_token_ids, ignore_eos, return_token_ids). Field names follow vLLM's
/// vllm/entrypoints/openai/protocol.py; every response also carries the pacs field weight_version.
/// </summary>
internal static class OpenAiEndpoints
{
    private const int MaxN = 128;
    private const int MaxTopLogProbs = 20;

    public static async Task Completions(HttpContext context, ServedModel model, BatchScheduler scheduler, ServeOptions options)
    {
        var body = await ServeApp.ReadBody(context, options);
        Endpoints.CheckModel(body, model);
        if (body.Bool("echo") == true) throw ApiError.BadRequest("'echo' is not supported", "echo");
        if (body.Has("suffix")) throw ApiError.BadRequest("'suffix' is not supported", "suffix");
        var prompts = CompletionPrompts(body, model);
        int maxTokens = body.Int("max_tokens", 0, int.MaxValue) ?? 16;
        int? logProbs = body.Int("logprobs", 0, MaxTopLogProbs);
        var spec = new SampleSpec(prompts, body.Int("n", 1, MaxN) ?? 1, Endpoints.Sampling(body, model, maxTokens), body.Seed("seed"),
            logProbs ?? 0, body.Strings("stop"));
        bool tokenIds = body.Bool("return_token_ids") ?? false;
        bool idsAsTokens = body.Bool("return_tokens_as_token_ids") ?? false;
        bool stream = body.Bool("stream") ?? false;
        bool usageInStream = body.Object("stream_options")?.Bool("include_usage") ?? false;
        var run = GenerationRun.Start(scheduler, model, spec, context.RequestAborted);
        string id = Endpoints.NewId("cmpl-");
        long created = Endpoints.Now();

        JsonObject Envelope(JsonArray choices) => new()
        {
            ["id"] = id,
            ["object"] = "text_completion",
            ["created"] = created,
            ["model"] = model.Id,
            ["choices"] = choices,
        };

        if (stream)
        {
            var sse = await ServerSentEvents.Start(context);
            var sentPrompt = new HashSet<int>();
            await foreach (var delta in run.Deltas(context.RequestAborted))
            {
                var c = delta.Choice;
                var choice = new JsonObject
                {
                    ["index"] = c.Index,
                    ["text"] = delta.Text,
                    ["logprobs"] = logProbs is null ? null : CompletionLogProbs(model, c, delta.From, delta.To, idsAsTokens),
                    ["finish_reason"] = c.FinishReason,
                };
                if (tokenIds)
                {
                    if (sentPrompt.Add(c.Index)) choice["prompt_token_ids"] = Endpoints.Ids(prompts[c.PromptIndex]);
                    choice["token_ids"] = Endpoints.Ids(c.Tokens.Skip(delta.From).Take(delta.To - delta.From));
                }
                var chunk = Envelope([choice]);
                chunk["weight_version"] = c.WeightVersion;
                await sse.Send(chunk);
            }
            if (usageInStream)
            {
                var usage = Envelope([]);
                usage["usage"] = Usage(run, prompts);
                await sse.Send(usage);
            }
            await sse.Done();
            return;
        }

        await run.CompleteAsync(context.RequestAborted);
        var choices = new JsonArray();
        foreach (var c in run.Choices)
        {
            var choice = new JsonObject
            {
                ["index"] = c.Index,
                ["text"] = c.Text,
                ["logprobs"] = logProbs is null ? null : CompletionLogProbs(model, c, 0, c.Tokens.Count, idsAsTokens),
                ["finish_reason"] = c.FinishReason,
                ["stop_reason"] = StopReason(c),
            };
            if (tokenIds)
            {
                choice["prompt_token_ids"] = Endpoints.Ids(prompts[c.PromptIndex]);
                choice["token_ids"] = Endpoints.Ids(c.Tokens);
            }
            choices.Add(choice);
        }
        var response = Envelope(choices);
        response["usage"] = Usage(run, prompts);
        response["weight_version"] = run.Choices[0].WeightVersion;
        await ServeApp.WriteJson(context, response);
    }

    public static async Task Chat(HttpContext context, ServedModel model, BatchScheduler scheduler, ServeOptions options)
    {
        var body = await ServeApp.ReadBody(context, options);
        Endpoints.CheckModel(body, model);
        var prompt = ChatPrompt(body, model);
        int maxTokens = body.Int("max_completion_tokens", 0, int.MaxValue) ?? body.Int("max_tokens", 0, int.MaxValue)
            ?? Endpoints.ContextLeft(model, [prompt]);
        bool logProbs = body.Bool("logprobs") ?? false;
        int top = body.Int("top_logprobs", 0, MaxTopLogProbs) ?? 0;
        if (top > 0 && !logProbs) throw ApiError.BadRequest("'top_logprobs' needs 'logprobs': true", "top_logprobs");
        var spec = new SampleSpec([prompt], body.Int("n", 1, MaxN) ?? 1, Endpoints.Sampling(body, model, maxTokens), body.Seed("seed"),
            top, body.Strings("stop"));
        bool tokenIds = body.Bool("return_token_ids") ?? false;
        bool idsAsTokens = body.Bool("return_tokens_as_token_ids") ?? false;
        bool stream = body.Bool("stream") ?? false;
        bool usageInStream = body.Object("stream_options")?.Bool("include_usage") ?? false;
        var run = GenerationRun.Start(scheduler, model, spec, context.RequestAborted);
        string id = Endpoints.NewId("chatcmpl-");
        long created = Endpoints.Now();

        JsonObject Envelope(string type, JsonArray choices) => new()
        {
            ["id"] = id,
            ["object"] = type,
            ["created"] = created,
            ["model"] = model.Id,
            ["choices"] = choices,
        };

        if (stream)
        {
            var sse = await ServerSentEvents.Start(context);
            foreach (var c in run.Choices)
                await sse.Send(Envelope("chat.completion.chunk", [new JsonObject
                {
                    ["index"] = c.Index,
                    ["delta"] = new JsonObject { ["role"] = "assistant", ["content"] = "" },
                    ["logprobs"] = null,
                    ["finish_reason"] = null,
                }]));
            await foreach (var delta in run.Deltas(context.RequestAborted))
            {
                var c = delta.Choice;
                var choice = new JsonObject
                {
                    ["index"] = c.Index,
                    ["delta"] = new JsonObject { ["content"] = delta.Text },
                    ["logprobs"] = logProbs ? ChatLogProbs(model, c, delta.From, delta.To, idsAsTokens) : null,
                    ["finish_reason"] = c.FinishReason,
                };
                if (tokenIds) choice["token_ids"] = Endpoints.Ids(c.Tokens.Skip(delta.From).Take(delta.To - delta.From));
                var chunk = Envelope("chat.completion.chunk", [choice]);
                chunk["weight_version"] = c.WeightVersion;
                await sse.Send(chunk);
            }
            if (usageInStream)
            {
                var usage = Envelope("chat.completion.chunk", []);
                usage["usage"] = Usage(run, [prompt]);
                await sse.Send(usage);
            }
            await sse.Done();
            return;
        }

        await run.CompleteAsync(context.RequestAborted);
        var choices = new JsonArray();
        foreach (var c in run.Choices)
        {
            var choice = new JsonObject
            {
                ["index"] = c.Index,
                ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = c.Text },
                ["logprobs"] = logProbs ? ChatLogProbs(model, c, 0, c.Tokens.Count, idsAsTokens) : null,
                ["finish_reason"] = c.FinishReason,
                ["stop_reason"] = StopReason(c),
            };
            if (tokenIds) choice["token_ids"] = Endpoints.Ids(c.Tokens);
            choices.Add(choice);
        }
        var response = Envelope("chat.completion", choices);
        if (tokenIds) response["prompt_token_ids"] = Endpoints.Ids(prompt);
        response["usage"] = Usage(run, [prompt]);
        response["weight_version"] = run.Choices[0].WeightVersion;
        await ServeApp.WriteJson(context, response);
    }

    /// <summary>`prompt`: a text, a list of texts, a list of token ids, or a list of lists of token ids.</summary>
    private static IReadOnlyList<int[]> CompletionPrompts(RequestBody body, ServedModel model)
    {
        if (body.Get("prompt") is not { } prompt) throw ApiError.BadRequest("'prompt' is required", "prompt");
        const string What = "a string, a list of strings, a list of token ids or a list of lists of token ids";
        if (prompt.ValueKind == JsonValueKind.String) return [Endpoints.Encode(model, prompt.GetString()!, "prompt")];
        if (prompt.ValueKind != JsonValueKind.Array || prompt.GetArrayLength() == 0) throw body.Wrong("prompt", "a non-empty " + What);
        var first = prompt[0];
        return first.ValueKind switch
        {
            JsonValueKind.Number => [Endpoints.CheckPrompt(RequestBody.IntArray(prompt, "prompt"), model, "prompt")],
            JsonValueKind.String when prompt.EnumerateArray().All(p => p.ValueKind == JsonValueKind.String) =>
                prompt.EnumerateArray().Select(p => Endpoints.Encode(model, p.GetString()!, "prompt")).ToList(),
            JsonValueKind.Array => prompt.EnumerateArray().Select(p => Endpoints.CheckPrompt(RequestBody.IntArray(p, "prompt"), model, "prompt")).ToList(),
            _ => throw body.Wrong("prompt", What),
        };
    }

    /// <summary>The messages rendered by the model's chat template, with the generation prompt.</summary>
    private static int[] ChatPrompt(RequestBody body, ServedModel model)
    {
        if (body.Get("messages") is not { ValueKind: JsonValueKind.Array } messages || messages.GetArrayLength() == 0)
            throw ApiError.BadRequest("'messages' must be a non-empty list of {role, content}", "messages");
        if (model.ChatTemplate is null || model.Tokenizer is null)
            throw ApiError.BadRequest($"the model '{model.Id}' has no chat template (tokenizer_config.json's chat_template); use /v1/completions", "messages");
        var turns = new List<Pacs.Text.ChatMessage>();
        foreach (var m in messages.EnumerateArray())
        {
            var turn = new RequestBody(m.ValueKind == JsonValueKind.Object ? m : throw ApiError.BadRequest("each message must be an object", "messages"), "messages[].");
            string role = turn.String("role") ?? throw ApiError.BadRequest("a message has no 'role'", "messages");
            turns.Add(new Pacs.Text.ChatMessage(role, MessageText(turn)));
        }
        string rendered;
        try
        {
            rendered = model.ChatTemplate.Render(turns, addGenerationPrompt: true);
        }
        catch (Exception e) when (e is InvalidOperationException or InvalidDataException or NotSupportedException or ArgumentException)
        {
            throw ApiError.BadRequest($"the chat template failed on these messages: {e.Message}", "messages");
        }
        return Endpoints.Encode(model, rendered, "messages", addSpecialTokens: false);
    }

    /// <summary>A message's content: a string, or a list of {type: "text", text} parts.</summary>
    private static string MessageText(RequestBody turn)
    {
        if (turn.Get("content") is not { } content) return "";
        if (content.ValueKind == JsonValueKind.String) return content.GetString()!;
        if (content.ValueKind != JsonValueKind.Array) throw turn.Wrong("content", "a string or a list of text parts");
        var text = new StringBuilder();
        foreach (var part in content.EnumerateArray())
        {
            if (part.ValueKind != JsonValueKind.Object || !part.TryGetProperty("type", out var type) || type.GetString() != "text"
                || !part.TryGetProperty("text", out var t) || t.ValueKind != JsonValueKind.String)
                throw turn.Wrong("content", "a string or a list of {\"type\": \"text\", \"text\": ...} parts (only text is supported)");
            text.Append(t.GetString());
        }
        return text.ToString();
    }

    /// <summary>vLLM's stop_reason: the stop id or stop string that ended the choice, else null.</summary>
    private static JsonNode? StopReason(ChoiceState c) => c.Matched switch
    {
        int id => id,
        string s => s,
        _ => null,
    };

    /// <summary>The completions API's logprobs: tokens, token_logprobs, top_logprobs and text_offset of tokens [from, to).</summary>
    private static JsonObject CompletionLogProbs(ServedModel model, ChoiceState c, int from, int to, bool idsAsTokens)
    {
        string TokenText(int token) => idsAsTokens ? ServedModel.TokenIdText(token) : model.TokenText(token);
        var (tokens, lps, tops, offsets) = (new JsonArray(), new JsonArray(), new JsonArray(), new JsonArray());
        int offset = from == 0 ? 0 : model.Text(c.Tokens.Take(from).ToList()).Length;
        for (int i = from; i < to; i++)
        {
            string text = TokenText(c.Tokens[i]);
            tokens.Add(text);
            lps.Add(c.LogProbs[i]);
            offsets.Add(offset);
            offset += text.Length;
            var top = new JsonObject { [text] = c.LogProbs[i] };
            if (i < c.Top.Count)
                foreach (var (token, lp) in c.Top[i]) top[TokenText(token)] = lp;
            tops.Add(top);
        }
        return new JsonObject { ["tokens"] = tokens, ["token_logprobs"] = lps, ["top_logprobs"] = tops, ["text_offset"] = offsets };
    }

    /// <summary>The chat API's logprobs: {content: [{token, logprob, bytes, top_logprobs}]} of tokens [from, to).</summary>
    private static JsonObject ChatLogProbs(ServedModel model, ChoiceState c, int from, int to, bool idsAsTokens)
    {
        var content = new JsonArray();
        for (int i = from; i < to; i++)
        {
            var entry = Entry(model, c.Tokens[i], c.LogProbs[i], idsAsTokens);
            var top = new JsonArray();
            if (i < c.Top.Count)
                foreach (var (token, lp) in c.Top[i]) top.Add(Entry(model, token, lp, idsAsTokens));
            entry["top_logprobs"] = top;
            content.Add(entry);
        }
        return new JsonObject { ["content"] = content };

        static JsonObject Entry(ServedModel model, int token, float logProb, bool idsAsTokens)
        {
            string text = idsAsTokens ? ServedModel.TokenIdText(token) : model.TokenText(token);
            return new JsonObject { ["token"] = text, ["logprob"] = logProb, ["bytes"] = Endpoints.Ids(Encoding.UTF8.GetBytes(text).Select(b => (int)b)) };
        }
    }

    private static JsonObject Usage(GenerationRun run, IReadOnlyList<int[]> prompts) =>
        Endpoints.Usage(prompts.Sum(p => p.Length), run.Choices.Sum(c => c.Tokens.Count));
}
