namespace Pacs.Engine;

/// <summary>
/// Learning-rate schedules as a function of the 0-based optimiser step (llm.c style, never 0 during warm-up):
/// warm-up: lr(s) = peak (s + 1) / warmup for s &lt; warmup; then
/// constant: peak; linear: peak − (peak − min) p; cosine: min + ½ (peak − min)(1 + cos π p),
/// with p = (s − warmup) / (total − warmup) clamped to [0, 1] and min = peak × min_lr_ratio.
/// </summary>
public sealed class LrSchedule
{
    public static IReadOnlyList<string> Kinds { get; } = ["constant", "linear", "cosine"];

    public LrSchedule(string kind, double peakLearningRate, int warmupSteps = 0, int totalSteps = 0, double minLrRatio = 0)
    {
        if (!Kinds.Contains(kind)) throw new ArgumentException($"lr schedule: kind '{kind}' is not one of {string.Join(", ", Kinds)}");
        if (!(peakLearningRate >= 0)) throw new ArgumentException($"lr schedule: learning rate must be >= 0, got {peakLearningRate}");
        if (warmupSteps < 0) throw new ArgumentException($"lr schedule: warmup_steps must be >= 0, got {warmupSteps}");
        if (kind != "constant" && totalSteps <= warmupSteps)
            throw new ArgumentException($"lr schedule: {kind} decay needs total_steps ({totalSteps}) > warmup_steps ({warmupSteps})");
        if (!(minLrRatio >= 0 && minLrRatio <= 1)) throw new ArgumentException($"lr schedule: min_lr_ratio must be in [0, 1], got {minLrRatio}");
        Kind = kind;
        PeakLearningRate = peakLearningRate;
        WarmupSteps = warmupSteps;
        TotalSteps = totalSteps;
        MinLrRatio = minLrRatio;
    }

    public string Kind { get; }

    public double PeakLearningRate { get; }

    public int WarmupSteps { get; }

    public int TotalSteps { get; }

    public double MinLrRatio { get; }

    public double LearningRate(long step)
    {
        if (step < 0) throw new ArgumentException($"lr schedule: step must be >= 0, got {step}");
        if (step < WarmupSteps) return PeakLearningRate * (step + 1) / WarmupSteps;
        if (Kind == "constant") return PeakLearningRate;
        double progress = Math.Clamp((step - WarmupSteps) / (double)(TotalSteps - WarmupSteps), 0, 1);
        double min = PeakLearningRate * MinLrRatio;
        return Kind == "linear"
            ? PeakLearningRate - (PeakLearningRate - min) * progress
            : min + 0.5 * (PeakLearningRate - min) * (1 + Math.Cos(Math.PI * progress));
    }
}
