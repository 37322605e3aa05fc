namespace Pacs.Models;

/// <summary>
/// Rotary position embedding tables in the Hugging Face "rotate half" layout: dimension i pairs with i + hd/2 and
/// turns by angle pos * invFreq[i]. Computed in float32 the way transformers does (so logits match to rounding),
/// grown on demand up to max_position_embeddings.
/// </summary>
internal sealed class RotaryTable
{
    private readonly object _lock = new();
    private readonly int _maxPositions;

    public RotaryTable(ModelConfig config)
    {
        Half = config.HeadDim / 2;
        _maxPositions = config.MaxPositionEmbeddings;
        InvFreq = InverseFrequencies(config);
    }

    /// <summary>hd/2: the number of rotated pairs.</summary>
    public int Half { get; }

    public float[] InvFreq { get; }                  // [hd/2]

    /// <summary>cos/sin [positions, hd/2]; replaced (never mutated) when grown, so readers may keep a reference.</summary>
    public (float[] Cos, float[] Sin, int Positions) Tables { get; private set; } = ([], [], 0);

    public (float[] Cos, float[] Sin) Ensure(int positions)
    {
        if (positions > _maxPositions)
            throw new ArgumentException($"sequence of {positions} positions exceeds max_position_embeddings {_maxPositions} (config.json)");
        var t = Tables;
        if (t.Positions >= positions) return (t.Cos, t.Sin);
        lock (_lock)
        {
            t = Tables;
            if (t.Positions >= positions) return (t.Cos, t.Sin);
            int n = Math.Min(_maxPositions, Math.Max(positions, Math.Max(64, t.Positions * 2)));
            var cos = new float[n * Half];
            var sin = new float[n * Half];
            for (int p = 0; p < n; p++)
                for (int i = 0; i < Half; i++)
                {
                    float angle = (float)p * InvFreq[i];
                    cos[p * Half + i] = MathF.Cos(angle);
                    sin[p * Half + i] = MathF.Sin(angle);
                }
            Tables = (cos, sin, n);
            return (cos, sin);
        }
    }

    private static float[] InverseFrequencies(ModelConfig config)
    {
        int hd = config.HeadDim, half = hd / 2;
        var inv = new float[half];
        float theta = (float)config.RopeTheta;
        for (int i = 0; i < half; i++) inv[i] = 1f / MathF.Pow(theta, (float)(2 * i) / hd);
        if (config.RopeScaling is { } s)
        {
            // transformers' _compute_llama3_parameters
            float factor = (float)s.Factor, low = (float)s.LowFreqFactor, high = (float)s.HighFreqFactor;
            float old = s.OriginalMaxPositionEmbeddings;
            float lowWavelen = old / low, highWavelen = old / high;
            for (int i = 0; i < half; i++)
            {
                float wavelen = 2 * MathF.PI / inv[i];
                float scaled = wavelen > lowWavelen ? inv[i] / factor : inv[i];
                if (!(wavelen < highWavelen) && !(wavelen > lowWavelen))
                {
                    float smooth = (old / wavelen - low) / (high - low);
                    scaled = (1 - smooth) * scaled / factor + smooth * scaled;
                }
                inv[i] = scaled;
            }
        }
        return inv;
    }

    /// <summary>Rotates one head vector x [hd] in place at a position.</summary>
    public static void Apply(Span<float> x, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin)
    {
        int half = cos.Length;
        for (int i = 0; i < half; i++)
        {
            float a = x[i], b = x[i + half];
            x[i] = a * cos[i] - b * sin[i];
            x[i + half] = b * cos[i] + a * sin[i];
        }
    }
}
