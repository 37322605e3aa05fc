using Pacs.Tensors.Kernels;

namespace Pacs.Models;

public sealed unsafe partial class Generator
{
    /// <summary>The model's adapter as it was at the start of the current Generate call (null: the base model).</summary>
    private LoraAdapter? _adapter;

    /// <summary>x A^T of each step row [rows, rank]: the only extra activation of an unmerged adapter.</summary>
    private AlignedBuffer _loraT = AlignedBuffer.Empty;
    private int _loraTCapacity;

    /// <summary>Takes the model's adapter for this call and sizes its row buffer.</summary>
    private void BeginAdapter(int rows)
    {
        _adapter = _model.Adapter;
        if (_adapter is null) return;
        long need = (long)rows * _adapter.Config.Rank;
        if (need > _loraTCapacity)
        {
            _loraT = new AlignedBuffer(need);
            _loraTCapacity = (int)need;
        }
    }

    /// <summary>True when the current adapter adds to this projection of layer <paramref name="layer"/>.</summary>
    private bool Adapted(int layer, LoraTarget target) => _adapter?.Pair(layer, target) is not null;

    /// <summary>
    /// y [n, out] += Scale * (x A^T) B^T for the step rows [r0, r0 + n) whose inputs are x [n, in]: rank-wide dot
    /// products per row, never a full [out, in] matrix. Prompt rows use the SGEMM, decode rows the decode kernels;
    /// both compute a row from that row alone.
    /// </summary>
    private void AddAdapter(int layer, LoraTarget target, int r0, float* x, int n, int inDim, float* y, int outDim, bool parallel)
    {
        if (_adapter?.Pair(layer, target) is not { } pair) return;
        int rank = _adapter.Config.Rank;
        float* t = _loraT.Ptr + (long)r0 * rank;
        fixed (float* a = pair.A.Data, b = pair.B.Data)
        {
            if (_prefill)
                Gemm.Sgemm(false, true, n, rank, inDim, 1f, new ReadOnlySpan<float>(x, n * inDim), inDim, pair.A.Data, inDim, 0f, new Span<float>(t, n * rank), rank);
            else DecodeKernels.Linear(x, n, inDim, a, rank, null, t, accumulate: false, parallel);
            System.Numerics.Tensors.TensorPrimitives.Multiply(new ReadOnlySpan<float>(t, n * rank), _adapter.Config.Scale, new Span<float>(t, n * rank));
            if (_prefill)
                Gemm.Sgemm(false, true, n, outDim, rank, 1f, new ReadOnlySpan<float>(t, n * rank), rank, pair.B.Data, rank, 1f, new Span<float>(y, n * outDim), outDim);
            else DecodeKernels.Linear(t, n, rank, b, outDim, null, y, accumulate: true, parallel);
        }
    }

    /// <summary>
    /// gate [n, I] = silu(gate(h) + its adapter term) * (up(h) + its adapter term) for decode rows: the fused gate/up
    /// kernel cannot add the low-rank terms before the SwiGLU, so the two projections run apart.
    /// </summary>
    private void AdaptedGateUp(int layer, int r0, float* h, int n, float* wGate, float* wUp, ushort* gate16, ushort* up16, LayerPanels? panels,
        float* gate, float* up, bool parallel)
    {
        int d = _c.HiddenSize, inter = _c.IntermediateSize;
        DecodeKernels.Project(h, n, d, [new(wGate, inter, null, gate, panels: panels?.Gate, w16: gate16),
            new(wUp, inter, null, up, panels: panels?.Up, w16: up16)], parallel);
        AddAdapter(layer, LoraTarget.GateProj, r0, h, n, d, gate, inter, parallel);
        AddAdapter(layer, LoraTarget.UpProj, r0, h, n, d, up, inter, parallel);
        for (int i = 0; i < n; i++)
        {
            var g = new Span<float>(gate + (long)i * inter, inter);
            Activations.SwiGluForward(g, new ReadOnlySpan<float>(up + (long)i * inter, inter), g);
        }
    }
}
