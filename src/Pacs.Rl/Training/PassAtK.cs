namespace Pacs.Rl.Training;

public static class PassAtK
{
    /// <summary>Unbiased pass@k from n samples of which c are correct (Chen et al. 2021): 1 - C(n-c, k) / C(n, k).</summary>
    public static double Estimate(int n, int c, int k)
    {
        if (k < 1 || k > n) throw new ArgumentException($"pass@k needs 1 <= k <= n, got k={k}, n={n}");
        if (n - c < k) return 1.0;
        double prodFail = 1.0;
        for (int i = n - c + 1; i <= n; i++) prodFail *= 1.0 - (double)k / i;
        return 1.0 - prodFail;
    }
}
