using System.CommandLine;
using Pacs.Models;
using Pacs.Rl.Training;
using Pacs.Text;
using Spectre.Console;

namespace Pacs.Cli.Commands;

/// <summary>`pacs export --merge`: a LoRA adapter folded into its base, written as a plain Hugging Face model folder.</summary>
public sealed class ExportCommand : ICliCommand
{
    public Command Build()
    {
        var merge = new Option<bool>("--merge") { Description = "Fold the adapter into the base weights (W + alpha/r * B A); required: the only export there is" };
        var adapter = new Option<string>("--adapter") { Description = "PEFT adapter folder (adapter_config.json, adapter_model.safetensors), e.g. a LoRA run's checkpoints/step_N/model", Required = true };
        var model = new Option<string?>("--model") { Description = "Base model folder (default: the adapter's base_model_name_or_path)" };
        var output = new Option<string>("--out") { Description = "Output model folder (config.json, model.safetensors, generation_config.json, tokenizer files)", Required = true };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace the contents of --out if it holds files" };
        var command = new Command("export", "Write a LoRA adapter merged into its base as a Hugging Face model folder");
        foreach (var option in new Option[] { merge, adapter, model, output, overwrite }) command.Options.Add(option);
        command.SetAction(parse => ErrorReporting.Run(() =>
        {
            if (!parse.GetValue(merge)) throw new ArgumentException("--merge is required: export writes the adapter merged into its base");
            string adapterDir = parse.GetValue(adapter)!;
            if (!Directory.Exists(adapterDir)) throw new DirectoryNotFoundException($"--adapter {adapterDir}: folder not found");
            string baseDir = parse.GetValue(model) ?? ManagedBackend.AdapterBase(adapterDir);
            string outDir = parse.GetValue(output)!;
            var merged = Merge(baseDir, adapterDir);
            OutputFolder.Prepare(outDir, parse.GetValue(overwrite), baseDir, adapterDir);
            merged.Save(outDir);
            TokenizerFiles.Copy(baseDir, outDir);
            AnsiConsole.MarkupLine($"merged [cyan]{Markup.Escape(adapterDir)}[/] into [cyan]{Markup.Escape(baseDir)}[/] -> [green]{Markup.Escape(outDir)}[/]");
            return 0;
        }));
        return command;
    }

    /// <summary>The base model with the adapter's low-rank product added to each targeted weight.</summary>
    public static Transformer Merge(string baseDir, string adapterDir)
    {
        var model = Transformer.Load(baseDir, Pacs.Tensors.TensorDtype.Float32); // merging writes W + (alpha/r) B A into float32 weights
        PeftAdapter.Load(adapterDir, model).MergeInto(model);
        return model;
    }
}
