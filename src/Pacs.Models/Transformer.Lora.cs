using Pacs.Tensors;

namespace Pacs.Models;

public sealed partial class Transformer
{
    /// <summary>
    /// The LoRA adapter that <see cref="Forward(int[], int, int, int[])"/> and the <see cref="Generator"/> add to the
    /// targeted projections; null runs the base model. The base weights stay as they are (frozen while it trains).
    /// </summary>
    public LoraAdapter? Adapter { get; set; }

    /// <summary>A targeted projection: the base Linear, plus the adapter's low-rank term when this pass has one.</summary>
    private static Tensor Project(LoraPass? lora, int layer, LoraTarget target, Tensor x, Tensor weight, Tensor? bias = null)
    {
        var y = Ops.Linear(x, weight, bias);
        return lora is null ? y : lora.Add(layer, target, x, y);
    }
}
