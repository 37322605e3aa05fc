using Pacs.Engine;
using Pacs.Models;
using Pacs.Tensors;

namespace Pacs.Engine.Managed;

/// <summary>
/// A frozen <see cref="Transformer"/>'s log-probs (the initial reference of `reference: initial` and of the KL
/// metrics). <paramref name="withAdapter"/> false scores the base of a LoRA model with its adapter off: the
/// reference of a LoRA run, sharing the policy's base weights. <paramref name="logitsChunkRows"/>: see
/// <see cref="TrainingSettings.LogitsChunkRows"/>.
/// </summary>
public sealed class ManagedScorer(Transformer model, bool withAdapter = true, int logitsChunkRows = TrainingSettings.DefaultLogitsChunkRows) : IScorer
{
    public Transformer Model { get; } = model;

    public float[][] Score(IPackedRows rows, float temperature)
    {
        var packed = ManagedBackend.Unwrap(rows);
        using var pass = ManagedPass.Run(packed, withGradients: false, () => ModelPasses.LogProbs(Model, packed, temperature, withAdapter, logitsChunkRows: logitsChunkRows));
        return pass.Outputs;
    }
}
