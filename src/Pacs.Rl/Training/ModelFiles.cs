using Pacs.Text;

namespace Pacs.Rl.Training;

/// <summary>Tokenizer files next to a model, (prompts become ids through <see cref="PromptEncoder"/>).</summary>
public static class ModelFiles
{
    public static ITokenizer LoadTokenizer(string modelDir)
    {
        if (CharTokenizer.ExistsIn(modelDir)) return CharTokenizer.Load(modelDir);
        if (File.Exists(Path.Combine(modelDir, "tokenizer.json"))) return HfTokenizer.Load(modelDir);
        throw new FileNotFoundException($"{modelDir}: no tokenizer ({CharTokenizer.FileName} or tokenizer.json) next to the model");
    }

    /// <summary>Copies the tokenizer files of <paramref name="fromDir"/> so that <paramref name="toDir"/> is a complete model folder.</summary>
    public static void CopyTokenizer(string fromDir, string toDir)
    {
        foreach (var name in new[] { CharTokenizer.FileName, "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json" })
        {
            string src = Path.Combine(fromDir, name);
            if (File.Exists(src)) File.Copy(src, Path.Combine(toDir, name), overwrite: true);
        }
    }
}
