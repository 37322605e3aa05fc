namespace Pacs.Engine.Remote;

/// <summary>
/// The servers and what each is doing: a request goes to the server with the fewest outstanding requests, servers
/// whose last request failed coming last, and never to one it already failed on while another is left.
/// </summary>
public sealed class ServerPool
{
    private readonly Uri[] _servers;
    private readonly int[] _outstanding;
    private readonly bool[] _failing;
    private readonly long[] _served;
    private readonly Lock _gate = new();

    public ServerPool(IReadOnlyList<Uri> servers)
    {
        if (servers.Count == 0) throw new ArgumentException("rollout.servers is empty: list at least one server URL");
        _servers = [.. servers];
        _outstanding = new int[servers.Count];
        _failing = new bool[servers.Count];
        _served = new long[servers.Count];
    }

    public IReadOnlyList<Uri> Servers => _servers;

    /// <summary>Requests each server has answered successfully so far.</summary>
    public IReadOnlyList<long> Served
    {
        get
        {
            lock (_gate) return [.. _served];
        }
    }

    /// <summary>The least loaded server not in <paramref name="tried"/> (any, once all are), counted as busy until <see cref="Release"/>.</summary>
    public int Acquire(IReadOnlySet<int> tried)
    {
        lock (_gate)
        {
            bool anyUntried = Enumerable.Range(0, _servers.Length).Any(s => !tried.Contains(s));
            int best = -1;
            for (int s = 0; s < _servers.Length; s++)
            {
                if (anyUntried && tried.Contains(s)) continue;
                if (best < 0 || Better(s, best)) best = s;
            }
            _outstanding[best]++;
            return best;
        }
    }

    /// <summary>Counts a request to <paramref name="server"/> itself (weight sync talks to every server in turn).</summary>
    public int Acquire(int server)
    {
        lock (_gate) _outstanding[server]++;
        return server;
    }

    /// <summary>Ends a request on <paramref name="server"/>; <paramref name="succeeded"/> false makes it a last choice until it answers again.</summary>
    public void Release(int server, bool succeeded)
    {
        lock (_gate)
        {
            _outstanding[server]--;
            _failing[server] = !succeeded;
            if (succeeded) _served[server]++;
        }
    }

    private bool Better(int a, int b) =>
        _failing[a] != _failing[b] ? !_failing[a] : _outstanding[a] < _outstanding[b];
}
