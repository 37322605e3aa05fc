using Pacs.Engine;
using Pacs.Tensors;

namespace Pacs.Engine.Managed;

/// <summary>
/// A forward pass of a managed model: its activations live in a <see cref="TensorScope"/> of their own, begun by
/// the forward and ended by <see cref="Dispose"/> (passes made one after another are disposed in reverse order,
/// as C# `using` declarations do).
/// </summary>
internal sealed class ManagedPass : ITokenPass
{
    private readonly TensorScope _scope;
    private readonly PackedSequences _rows;
    private readonly Tensor? _graph;

    private ManagedPass(TensorScope scope, PackedSequences rows, Tensor? graph, float[][] outputs, float[][]? entropy)
    {
        _scope = scope;
        _rows = rows;
        _graph = graph;
        Outputs = outputs;
        Entropy = entropy;
    }

    public float[][] Outputs { get; }

    public float[][]? Entropy { get; }

    /// <summary>Runs <paramref name="forward"/> ([B*T] per-position outputs, and the per-row response entropy when it was asked) in a new scope.</summary>
    public static ManagedPass Run(PackedSequences rows, bool withGradients, Func<(Tensor Outputs, float[][]? Entropy)> forward)
    {
        var scope = TensorScope.Begin();
        try
        {
            Tensor outputs;
            float[][]? entropy;
            // No-grad holds only while the forward runs: a pass made after this one may record its graph.
            using (withGradients ? null : Autograd.NoGrad()) (outputs, entropy) = forward();
            return new ManagedPass(scope, rows, withGradients ? outputs : null, rows.Extract(outputs.Data), entropy);
        }
        catch
        {
            scope.Dispose();
            throw;
        }
    }

    public void Backward(float[][] gradOutputs, double scale = 1.0)
    {
        if (_graph is null) throw new InvalidOperationException("this forward pass was made without gradients");
        _graph.Backward(_rows.Scatter(gradOutputs, scale));
    }

    public void Dispose() => _scope.Dispose();
}
