using System.CommandLine;
using System.Text;
using System.Text.Json;
using Pacs.Models;
using Pacs.Text;

namespace Pacs.Cli.Commands;

/// <summary>`pacs generate`: continue a prompt with a Hugging Face model folder (config.json, model.safetensors, tokenizer.json).</summary>
public sealed class GenerateCommand : ICliCommand
{
    public Command Build()
    {
        var command = new Command("generate", "Sample a continuation of a prompt from a model folder (KV-cache decoding)");
        var modelOption = new Option<string>("--model") { Description = "Model folder: config.json, model.safetensors (or sharded), tokenizer.json", Required = true };
        var adapterOption = new Option<string?>("--adapter") { Description = "A LoRA adapter folder (PEFT format) applied unmerged on top of --model" };
        var promptOption = new Option<string>("--prompt") { Description = "Prompt text", Required = true };
        var chatOption = new Option<bool>("--chat") { Description = "Wrap the prompt as a user turn with the chat template from tokenizer_config.json" };
        var maxTokensOption = new Option<int>("--max-tokens") { Description = "Most new tokens", DefaultValueFactory = _ => 128 };
        var greedyOption = new Option<bool>("--greedy") { Description = "Always take the most likely token" };
        var temperatureOption = new Option<float?>("--temperature") { Description = "Sampling temperature (default: generation_config.json, else 1)" };
        var topPOption = new Option<float?>("--top-p") { Description = "Nucleus sampling mass (default: generation_config.json, else 1)" };
        var topKOption = new Option<int?>("--top-k") { Description = "Sample among the k most likely tokens (default: generation_config.json, else all)" };
        var seedOption = new Option<ulong>("--seed") { Description = "Random seed", DefaultValueFactory = _ => 0UL };
        var jsonOption = new Option<bool>("--json") { Description = "Print {\"prompt_ids\": [...], \"ids\": [...], \"text\": \"...\"}" };
        var dtypeOption = DtypeOption.Create();
        foreach (var option in new Option[] { modelOption, adapterOption, promptOption, chatOption, maxTokensOption, greedyOption, temperatureOption, topPOption, topKOption, seedOption, jsonOption, dtypeOption })
            command.Options.Add(option);
        command.SetAction(parse => ErrorReporting.Run(() =>
        {
            string dir = parse.GetValue(modelOption)!;
            string prompt = parse.GetValue(promptOption)!;
            bool greedy = parse.GetValue(greedyOption);
            float? temperature = parse.GetValue(temperatureOption), topP = parse.GetValue(topPOption);
            int? topK = parse.GetValue(topKOption);
            if (greedy && (temperature is not null || topP is not null || topK is not null))
                throw new ArgumentException("--greedy cannot be combined with --temperature, --top-p or --top-k");
            int maxTokens = parse.GetValue(maxTokensOption);
            if (maxTokens < 0) throw new ArgumentException($"--max-tokens must be >= 0, got {maxTokens}");

            var dtype = DtypeOption.Parse(parse.GetValue(dtypeOption)!);
            var model = ManagedBackend.LoadFrozenModel(dir, dtype, parse.GetValue(adapterOption));
            var tokenizer = HfTokenizer.Load(dir);
            int[] promptIds = Encode(tokenizer, dir, prompt, parse.GetValue(chatOption));
            if (promptIds.Length == 0)
                throw new ArgumentException($"--prompt encodes to no tokens and {dir}/tokenizer.json adds no BOS; give some text");

            var defaults = model.GenerationConfig;
            var stop = new HashSet<int>(tokenizer.EosIds);
            stop.UnionWith(defaults?.EosTokenIds ?? model.Config.EosTokenIds);
            var options = new SamplingOptions(
                Temperature: temperature ?? defaults?.Temperature ?? 1f,
                TopK: topK ?? defaults?.TopK ?? 0,
                TopP: topP ?? defaults?.TopP ?? 1f,
                MaxNewTokens: maxTokens,
                StopTokenIds: stop.Order().ToArray(),
                Greedy: greedy || (temperature is null && topP is null && topK is null && defaults is { DoSample: false }));
            var result = new Generator(model).Generate(new GenerationRequest(promptIds, parse.GetValue(seedOption)), options);
            string text = tokenizer.Decode(result.Tokens, skipSpecialTokens: true);

            var stdout = new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false));
            if (parse.GetValue(jsonOption))
            {
                using var w = new Utf8JsonWriter(stdout.BaseStream);
                w.WriteStartObject();
                w.WriteStartArray("prompt_ids");
                foreach (var id in promptIds) w.WriteNumberValue(id);
                w.WriteEndArray();
                w.WriteStartArray("ids");
                foreach (var id in result.Tokens) w.WriteNumberValue(id);
                w.WriteEndArray();
                w.WriteString("text", text);
                w.WriteEndObject();
                w.Flush();
                stdout.WriteLine();
            }
            else
            {
                stdout.WriteLine(text);
            }
            stdout.Flush();
            return 0;
        }));
        return command;
    }

    private static int[] Encode(HfTokenizer tokenizer, string dir, string prompt, bool chat)
    {
        if (!chat) return tokenizer.Encode(prompt, addSpecialTokens: true);
        var template = ChatTemplate.FromTokenizerConfig(dir);
        // The rendered template carries its own BOS text (if any), so no post-processor specials are added.
        string rendered = template.Render([new ChatMessage("user", prompt)], addGenerationPrompt: true);
        return tokenizer.Encode(rendered, addSpecialTokens: false);
    }
}
