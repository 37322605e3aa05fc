using System.Text.Json;
using System.Text.Json.Serialization;

namespace Pacs.Engine.Tinker;

// The Tinker API's JSON bodies, field for field as the SDK's pydantic types serialise them
// (thinking-machines-lab/tinker src/tinker/types/*.py), snake_case on the wire. Requests leave `type` out, as the
// SDK's model_dump(exclude_unset=True) does. docs/tinker.md lists each source file.

/// <summary>types/encoded_text_chunk.py: a run of token ids.</summary>
public sealed record EncodedTextChunk(int[] Tokens, string Type = "encoded_text");

/// <summary>types/model_input.py: the chunks of one sequence (only encoded_text chunks are used here).</summary>
public sealed record ModelInput(IReadOnlyList<EncodedTextChunk> Chunks)
{
    public static ModelInput Of(int[] tokens) => new([new EncodedTextChunk(tokens)]);

    /// <summary>All tokens of the sequence; image chunks are refused naming the chunk type.</summary>
    public int[] Tokens() => Chunks.SelectMany(c => c.Type == "encoded_text" ? c.Tokens
        : throw new TinkerException($"model_input chunk type '{c.Type}' is not supported (encoded_text only)")).ToArray();
}

/// <summary>types/_pydantic_types/tensor_data.py: a flattened tensor (dtype float32 or int64).</summary>
public sealed record TensorData(double[] Data, string Dtype, long[]? Shape)
{
    public static TensorData Floats(float[] values) => new(Array.ConvertAll(values, v => (double)v), "float32", [values.Length]);

    public static TensorData Ints(int[] values) => new(Array.ConvertAll(values, v => (double)v), "int64", [values.Length]);

    public float[] ToFloats() => Array.ConvertAll(Data, v => (float)v);

    public int[] ToInts() => Array.ConvertAll(Data, v => checked((int)v));
}

/// <summary>types/datum.py: one sequence and its loss inputs (target_tokens, weights, logprobs, advantages).</summary>
public sealed record Datum(ModelInput ModelInput, Dictionary<string, TensorData> LossFnInputs);

/// <summary>types/forward_backward_input.py.</summary>
public sealed record ForwardBackwardInput(IReadOnlyList<Datum> Data, string LossFn, Dictionary<string, double>? LossFnConfig = null);

/// <summary>types/forward_backward_request.py.</summary>
public sealed record ForwardBackwardRequest(ForwardBackwardInput ForwardBackwardInput, string ModelId, int? SeqId);

/// <summary>types/forward_request.py (same input under `forward_input`).</summary>
public sealed record ForwardRequest(ForwardBackwardInput ForwardInput, string ModelId, int? SeqId);

/// <summary>types/_pydantic_types/forward_backward_output.py: per-datum outputs (logprobs, elementwise_loss) and metrics.</summary>
public sealed record ForwardBackwardOutput(string LossFnOutputType, IReadOnlyList<Dictionary<string, TensorData>> LossFnOutputs, Dictionary<string, double> Metrics);

/// <summary>
/// types/optim_step_request.py AdamParams (learning_rate, beta1, beta2, eps), plus weight_decay and grad_clip_norm
/// as newer Tinker versions and the SkyRL-tx / compatible servers take them.
/// </summary>
public sealed record AdamParams(double LearningRate, double Beta1, double Beta2, double Eps, double WeightDecay = 0, double GradClipNorm = 0);

public sealed record OptimStepRequest(AdamParams AdamParams, string ModelId, int? SeqId, string? Type = null);

/// <summary>types/optim_step_response.py.</summary>
public sealed record OptimStepResponse(Dictionary<string, double>? Metrics);

/// <summary>types/create_session_request.py / create_session_response.py.</summary>
public sealed record CreateSessionRequest(IReadOnlyList<string> Tags, Dictionary<string, string>? UserMetadata, string SdkVersion, string? Type = null);

public sealed record CreateSessionResponse(string SessionId, string? InfoMessage = null, string? WarningMessage = null, string? ErrorMessage = null, string Type = "create_session");

/// <summary>types/session_heartbeat_request.py / session_heartbeat_response.py.</summary>
public sealed record SessionHeartbeatRequest(string SessionId);

public sealed record SessionHeartbeatResponse(string Type = "session_heartbeat");

/// <summary>types/lora_config.py (unset fields are the server's defaults: unembed, MLP and attention all trained).</summary>
public sealed record LoraConfig(int Rank, long? Seed = null, bool? TrainUnembed = null, bool? TrainMlp = null, bool? TrainAttn = null);

/// <summary>types/create_model_request.py / create_model_response.py.</summary>
public sealed record CreateModelRequest(string SessionId, int ModelSeqId, string BaseModel, Dictionary<string, string>? UserMetadata, LoraConfig? LoraConfig, string? Type = null);

public sealed record CreateModelResponse(string ModelId, string Type = "create_model");

/// <summary>types/shared/untyped_api_future.py: what every queued request returns.</summary>
public sealed record UntypedApiFuture(string RequestId, string? ModelId = null);

/// <summary>types/future_retrieve_request.py (POST /api/v1/retrieve_future).</summary>
public sealed record FutureRetrieveRequest(string RequestId);

/// <summary>types/try_again_response.py: the future is still pending.</summary>
public sealed record TryAgainResponse(string RequestId, string QueueState = "active", string Type = "try_again");

/// <summary>types/request_failed_response.py: the request ran and failed (category: user, server, unknown).</summary>
public sealed record RequestFailedResponse(string Error, string Category);

/// <summary>types/save_weights_request.py / save_weights_response.py (the training state: weights and optimizer).</summary>
public sealed record SaveWeightsRequest(string ModelId, string? Path, int? SeqId, string? Type = null);

public sealed record SaveWeightsResponse(string Path, string Type = "save_weights");

/// <summary>types/load_weights_request.py / load_weights_response.py.</summary>
public sealed record LoadWeightsRequest(string ModelId, string Path, int? SeqId, string? Type = null);

public sealed record LoadWeightsResponse(string? Path, string Type = "load_weights");

/// <summary>types/save_weights_for_sampler_request.py / SaveWeightsForSamplerResponseInternal: without a path, an ephemeral sampling session.</summary>
public sealed record SaveWeightsForSamplerRequest(string ModelId, string? Path, int? SamplingSessionSeqId, int? SeqId, string? Type = null);

public sealed record SaveWeightsForSamplerResponse(string? Path, string? SamplingSessionId, string Type = "save_weights_for_sampler");

/// <summary>types/create_sampling_session_request.py / create_sampling_session_response.py.</summary>
public sealed record CreateSamplingSessionRequest(string SessionId, int SamplingSessionSeqId, string? BaseModel, string? ModelPath, string? Type = null);

public sealed record CreateSamplingSessionResponse(string SamplingSessionId);

/// <summary>types/_pydantic_types/sampling_params.py: stop as token ids; top_k -1 is no limit.</summary>
public sealed record TinkerSamplingParams(int? MaxTokens, long? Seed, int[]? Stop, double Temperature = 1, int TopK = -1, double TopP = 1);

/// <summary>types/sample_request.py (POST /api/v1/asample).</summary>
public sealed record SampleRequest(ModelInput Prompt, TinkerSamplingParams SamplingParams, int NumSamples = 1, string? BaseModel = null, string? ModelPath = null,
    string? SamplingSessionId = null, int? SeqId = null, bool? PromptLogprobs = null, string? Type = null);

/// <summary>types/_pydantic_types/sampled_sequence.py: stop_reason is "stop" or "length".</summary>
public sealed record SampledSequence(string StopReason, int[] Tokens, double[]? Logprobs);

/// <summary>types/_pydantic_types/sample_response.py.</summary>
public sealed record SampleResponse(IReadOnlyList<SampledSequence> Sequences, string Type = "sample");

/// <summary>The one JSON setup for every body: snake_case names, nulls left out (the SDK's exclude_unset).</summary>
public static class TinkerJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public static string Write<T>(T value) => JsonSerializer.Serialize(value, Options);

    /// <summary>Parses <paramref name="json"/> as <typeparamref name="T"/>; a body that does not fit names <paramref name="what"/>.</summary>
    public static T Read<T>(string json, string what)
    {
        try
        {
            return JsonSerializer.Deserialize<T>(json, Options) ?? throw new TinkerException($"{what}: empty response body");
        }
        catch (JsonException e)
        {
            throw new TinkerException($"{what}: response is not a {typeof(T).Name}: {e.Message}");
        }
    }
}

/// <summary>A Tinker request that failed; the message names the route or request and why (an IOException: the remote side failed, not the input).</summary>
public class TinkerException(string message) : IOException(message);
