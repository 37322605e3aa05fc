namespace Pacs.Tensors.Tests;

/// <summary>
/// A LoRA projection's low-rank term added in place into the base projection's output (no second [rows, out]
/// activation): the same values and gradients to the bit as the copying form, and finite differences.
/// </summary>
public class LowRankInPlaceTests
{
    [Fact]
    public void In_place_sum_gives_the_copying_forms_values_and_gradients_to_the_bit()
    {
        var rng = new Random(51);
        var x = GradCheck.Param(rng, 6, 10);
        var w = GradCheck.Param(rng, 7, 10);
        var a = GradCheck.Param(rng, 3, 10);
        var b = GradCheck.Param(rng, 7, 3);
        var upstream = GradCheck.RandomArray(rng, 6 * 7);
        (float[] Y, float[][] Grads) Run(bool inPlace)
        {
            foreach (var p in new[] { x, w, a, b }) p.Grad = null;
            var y = Ops.AddLowRank(Ops.Linear(x, w), Ops.Linear(x, a), b, 0.5f, inPlace);
            var values = (float[])y.Data.Clone();
            y.Backward(upstream);
            return (values, [.. new[] { x, w, a, b }.Select(p => (float[])p.Grad!.Clone())]);
        }
        var copied = Run(inPlace: false);
        var inPlace = Run(inPlace: true);
        Assert.Equal(copied.Y.Select(BitConverter.SingleToInt32Bits), inPlace.Y.Select(BitConverter.SingleToInt32Bits));
        for (int p = 0; p < copied.Grads.Length; p++)
            Assert.Equal(copied.Grads[p].Select(BitConverter.SingleToInt32Bits), inPlace.Grads[p].Select(BitConverter.SingleToInt32Bits));
        GradCheck.Check(() => Ops.AddLowRank(Ops.Linear(x, w), Ops.Linear(x, a), b, 0.5f, inPlace: true), [x, w, a, b]);
    }
}
