using Pacs.Models;
using Pacs.Text;

namespace Pacs.Engine.Tinker.Tests;

/// <summary>A throwaway folder with a tiny random model (hidden 32, one layer) and the char tokenizer, as the trainer's own tests use.</summary>
internal sealed class TinyModel : IDisposable
{
    public TinyModel()
    {
        Root = Directory.CreateTempSubdirectory("pacs-tinker-").FullName;
        Dir = System.IO.Path.Combine(Root, "base");
        var tokenizer = new CharTokenizer();
        var config = new ModelConfig
        {
            ModelType = "llama",
            VocabSize = tokenizer.VocabSize,
            HiddenSize = 32,
            NumHiddenLayers = 1,
            NumAttentionHeads = 4,
            NumKeyValueHeads = 2,
            HeadDim = 8,
            IntermediateSize = 64,
            MaxPositionEmbeddings = 128,
            BosTokenId = tokenizer.BosId,
            EosTokenIds = tokenizer.EosIds,
            PadTokenId = tokenizer.PadId,
        };
        new Transformer(config, seed: 3).Save(Dir);
        tokenizer.Save(Dir);
    }

    public string Root { get; }

    public string Dir { get; }

    public string Path(string name) => System.IO.Path.Combine(Root, name);

    public void Dispose() => Directory.Delete(Root, recursive: true);
}
