using System.CommandLine;
using Pacs.Cli.Init;
using Pacs.Models;
using Pacs.Rl.Training;
using Pacs.Text;

namespace Pacs.Cli.Commands;

/// <summary>
/// `pacs init`: a Hugging Face model folder of a real architecture and shape with seeded random weights, a real
/// tokenizer and its chat template, and the generation_config.json of the instruct model (its end ids), for tests,
/// benchmarks and dry runs of the real path where no pretrained model can be downloaded.
/// </summary>
public sealed class InitCommand : ICliCommand
{
    public Command Build()
    {
        var arch = new Option<string>("--arch") { Description = "Architecture: qwen2, qwen3 or llama", Required = true };
        var preset = new Option<string>("--preset") { Description = "Size: tiny (tests), 0.5b or 1.5b (Qwen2.5; Qwen3's 0.6B/1.7B), 1b (Llama 3.2)", DefaultValueFactory = _ => "tiny" };
        var tokenizer = new Option<string>("--tokenizer") { Description = "Folder with tokenizer.json and tokenizer_config.json (its chat template), e.g. models/tokenizers/qwen3", Required = true };
        var output = new Option<string>("--out") { Description = "Folder to write (refused if it holds files, unless --overwrite)", Required = true };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace the contents of --out if it holds files" };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the random weights", DefaultValueFactory = _ => 0 };
        var dtype = new Option<string>("--dtype") { Description = "Precision of the written weights: float32, or bfloat16 (BF16 safetensors, as Qwen and Llama are published; half the size)", DefaultValueFactory = _ => "float32" };
        var command = new Command("init", "Write a randomly initialised Hugging Face model folder of a real shape with a real tokenizer and chat template");
        foreach (var option in new Option[] { arch, preset, tokenizer, output, seed, overwrite, dtype }) command.Options.Add(option);
        command.SetAction(parse => ErrorReporting.Run(() =>
        {
            string outDir = parse.GetValue(output)!;
            var weights = DtypeOption.Parse(parse.GetValue(dtype)!) switch
            {
                WeightDtype.Bfloat16 => Pacs.Tensors.TensorDtype.BFloat16,
                WeightDtype.Float32 => Pacs.Tensors.TensorDtype.Float32,
                _ => throw new ArgumentException("--dtype: init writes float32 or bfloat16 weights, not auto"),
            };
            // The shape and tokenizer are checked by Write before anything is written; an existing folder is refused first.
            OutputFolder.Prepare(outDir, parse.GetValue(overwrite), parse.GetValue(tokenizer)!);
            (string dir, long parameters) written;
            try
            {
                written = Write(parse.GetValue(arch)!, parse.GetValue(preset)!, parse.GetValue(tokenizer)!, outDir, parse.GetValue(seed), weights);
            }
            catch
            {
                if (!OutputFolder.IsNonEmpty(outDir)) Directory.Delete(outDir); // nothing written: leave nothing but the error
                throw;
            }
            var (dir, parameters) = written;
            Console.WriteLine($"wrote {dir}: {parse.GetValue(arch)} {parse.GetValue(preset)}, {parameters:N0} parameters (random, seed {parse.GetValue(seed)}), {parse.GetValue(dtype)} weights, tokenizer and chat template of {parse.GetValue(tokenizer)}");
            return 0;
        }));
        return command;
    }

    /// <summary>
    /// Writes the folder; returns it and the parameter count. bfloat16 weights are drawn in float32 and rounded one by
    /// one (no float32 copy of the model is made) and written as BF16.
    /// </summary>
    public static (string Dir, long Parameters) Write(string arch, string preset, string tokenizerDir, string outDir, ulong seed,
        Pacs.Tensors.TensorDtype weights = Pacs.Tensors.TensorDtype.Float32)
    {
        var shape = ModelPresets.Shape(arch.Trim().ToLowerInvariant(), preset.Trim().ToLowerInvariant());
        if (File.Exists(Path.Combine(outDir, ModelConfig.FileName)))
            throw new ArgumentException($"--out: {outDir} already holds a model (config.json); choose another folder");
        if (!File.Exists(Path.Combine(tokenizerDir, "tokenizer.json")))
            throw new FileNotFoundException($"--tokenizer: {tokenizerDir} has no tokenizer.json", Path.Combine(tokenizerDir, "tokenizer.json"));
        var tokenizer = HfTokenizer.Load(tokenizerDir);
        if (tokenizer.ChatTemplateSource is not null) ChatTemplate.FromTokenizerConfig(tokenizerDir); // fail here, not at the first prompt
        var endIds = ModelPresets.EndTokens(shape.ModelType).Select(tokenizer.TokenToId).OfType<int>().Concat(tokenizer.EosIds).Distinct().ToList();
        if (endIds.Count == 0) throw new InvalidDataException($"--tokenizer: {tokenizerDir} has none of the end tokens of {arch} ({string.Join(", ", ModelPresets.EndTokens(shape.ModelType))})");
        // The vocabulary is the real model's (padded past the tokenizer's ids), or the tokenizer's rounded up to 64.
        int vocab = Math.Max(shape.VocabSize, (tokenizer.VocabSize + 63) / 64 * 64);
        int? bos = tokenizer.BosId ?? tokenizer.TokenToId("<|endoftext|>");
        var config = shape with { VocabSize = vocab, BosTokenId = bos, EosTokenIds = endIds, PadTokenId = tokenizer.PadId };
        var model = new Transformer(config, seed, weights)
        {
            GenerationConfig = new GenerationConfig { DoSample = true, BosTokenId = bos, EosTokenIds = endIds, PadTokenId = tokenizer.PadId },
        };
        model.Save(outDir);
        TokenizerFiles.Copy(tokenizerDir, outDir);
        return (outDir, model.ParameterCount);
    }
}
