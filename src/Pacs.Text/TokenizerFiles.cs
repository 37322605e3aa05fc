namespace Pacs.Text;

/// <summary>The tokenizer files of a model folder: the one loader every command uses, and the copy that keeps a saved folder complete.</summary>
public static class TokenizerFiles
{
    private static readonly string[] Names = [CharTokenizer.FileName, "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"];

    /// <summary>char_tokenizer.json if present, else a Hugging Face tokenizer.json.</summary>
    public static ITokenizer Load(string modelDir)
    {
        if (!Directory.Exists(modelDir)) throw new DirectoryNotFoundException($"{modelDir}: model directory not found");
        if (CharTokenizer.ExistsIn(modelDir)) return CharTokenizer.Load(modelDir);
        if (File.Exists(Path.Combine(modelDir, "tokenizer.json"))) return HfTokenizer.Load(modelDir);
        throw new FileNotFoundException($"{modelDir}: no tokenizer ({CharTokenizer.FileName} or tokenizer.json) next to the model");
    }

    /// <summary>Copies the tokenizer files of <paramref name="fromDir"/> so that <paramref name="toDir"/> is a complete model folder.</summary>
    public static void Copy(string fromDir, string toDir)
    {
        foreach (var name in Names)
        {
            string source = Path.Combine(fromDir, name);
            if (File.Exists(source)) File.Copy(source, Path.Combine(toDir, name), overwrite: true);
        }
    }
}
