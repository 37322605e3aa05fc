namespace Pacs.Serve;

/// <summary>How `pacs serve` runs: where it listens, who may call it, and how much work it takes at once.</summary>
public sealed record ServeOptions
{
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>0 picks a free port (the listening address is printed).</summary>
    public int Port { get; init; } = 8000;

    /// <summary>When set, every route but GET /health needs `Authorization: Bearer {ApiKey}`.</summary>
    public string? ApiKey { get; init; }

    /// <summary>Most sequences decoded together (one decode step).</summary>
    public int MaxBatch { get; init; } = 64;

    /// <summary>Most sequences waiting for a place in the batch; past it requests get 503 with Retry-After.</summary>
    public int MaxQueue { get; init; } = 1024;

    /// <summary>Largest request body; larger ones get 413.</summary>
    public long MaxBodyBytes { get; init; } = 8L << 20;

    /// <summary>Longest time SIGTERM waits for in-flight requests before the process exits anyway.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(60);
}
