using System.Threading.Channels;
using Pacs.Models;

namespace Pacs.Serve;

/// <summary>One sequence to sample for a request: its prompt, settings, seed, and where its tokens go.</summary>
/// <param name="Choice">The request's index for this sequence (echoed in every update).</param>
/// <param name="TopLogProbs">How many most likely tokens to report per step (0: none).</param>
internal sealed record GenerationJob(int Choice, int[] PromptIds, SamplingOptions Options, ulong Seed, int TopLogProbs,
    ChannelWriter<JobUpdate> Updates, CancellationToken Cancel);

/// <summary>
/// New tokens of one sequence since its last update. Finished: it ended (a stop id when Stopped, else its token
/// budget or the context; Cancelled when its client left or a stop string ended it).
/// </summary>
internal sealed record JobUpdate(int Choice, int[] Tokens, float[] LogProbs, (int Token, float LogProb)[][]? Top,
    bool Finished, bool Stopped, bool Cancelled, string WeightVersion);

/// <summary>Counters of the decode loop, for tests, /stats and the load benchmark.</summary>
public sealed record SchedulerStats(long Steps, long DecodeRows, int MaxDecodeRows, long PromptRows, long CancelledSequences,
    long CompletedSequences, int Active, int Queued, string WeightVersion, long WeightUpdates, bool Paused);

/// <summary>The server is at its queue bound: answered 503 with Retry-After.</summary>
internal sealed class ServerBusyException(string message) : Exception(message);

/// <summary>
/// Continuous batching over one <see cref="Generator"/>'s live batch, on a thread of its own: requests arriving at
/// any time join the next step (up to maxBatch sequences share each decode step), each keeps its own seed and
/// sampling settings, so it gets the tokens a local run with the same seed gets. Weight updates wait until no
/// sequence is running (none then mixes two weight versions), and pausing stops admission.
/// </summary>
public sealed class BatchScheduler : IDisposable
{
    private readonly Generator _generator;
    private readonly Transformer _model;
    private readonly int _maxBatch;
    private readonly int _maxQueue;
    private readonly object _gate = new();
    private readonly Queue<GenerationJob> _pending = new();
    private readonly List<(GenerationJob Job, LiveSequence Seq, int Sent)> _active = [];
    private readonly Queue<WeightUpdate> _updates = new();
    private readonly List<TaskCompletionSource> _idleWaiters = [];
    private readonly SemaphoreSlim _wake = new(0);
    private readonly Thread _thread;
    private bool _paused, _stopping, _stopped;
    private long _steps, _decodeRows, _promptRows, _cancelled, _completed, _weightUpdates;
    private int _maxDecodeRows;
    private string _weightVersion;

    private sealed record WeightUpdate(Action Apply, string? Version, TaskCompletionSource<string> Done);

    /// <param name="maxBatch">Most sequences decoded together; later ones wait in the queue.</param>
    /// <param name="maxQueue">Most sequences waiting for a place; past it, submissions fail (503).</param>
    public BatchScheduler(Transformer model, int maxBatch, int maxQueue, string weightVersion = "0")
    {
        if (maxBatch < 1) throw new ArgumentException($"--max-batch must be >= 1, got {maxBatch}");
        if (maxQueue < 1) throw new ArgumentException($"--max-queue must be >= 1, got {maxQueue}");
        _model = model;
        _maxBatch = maxBatch;
        _maxQueue = maxQueue;
        _weightVersion = weightVersion;
        _generator = new Generator(model, maxRowsPerStep: Math.Max(maxBatch, 1));
        _thread = new Thread(Loop) { IsBackground = true, Name = "pacs-serve decode loop" };
        _thread.Start();
    }

    public int MaxBatch => _maxBatch;

    public string WeightVersion
    {
        get { lock (_gate) return _weightVersion; }
    }

    public SchedulerStats Stats
    {
        get
        {
            lock (_gate)
                return new SchedulerStats(_steps, _decodeRows, _maxDecodeRows, _promptRows, _cancelled, _completed, _active.Count,
                    _pending.Count, _weightVersion, _weightUpdates, _paused);
        }
    }

    /// <summary>Queues sequences (all or none); their updates go to each job's writer.</summary>
    internal void Submit(IReadOnlyList<GenerationJob> jobs)
    {
        lock (_gate)
        {
            if (_stopping) throw new ServerBusyException("the server is shutting down");
            if (_pending.Count + jobs.Count > _maxQueue)
                throw new ServerBusyException($"the queue is full ({_pending.Count} sequences waiting, at most {_maxQueue}); retry later");
            foreach (var job in jobs) _pending.Enqueue(job);
        }
        _wake.Release();
    }

    /// <summary>Stops admitting sequences; completes once none is running (queued ones wait for Continue).</summary>
    public Task PauseAsync()
    {
        lock (_gate)
        {
            _paused = true;
            var idle = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _idleWaiters.Add(idle);
            _wake.Release();
            return idle.Task;
        }
    }

    public void Continue()
    {
        lock (_gate) _paused = false;
        _wake.Release();
    }

    /// <summary>
    /// Reads new weights into the served model in place once no sequence is running (admission waits meanwhile),
    /// then labels them <paramref name="version"/> (default: the number of updates so far). Returns the new label.
    /// </summary>
    public Task<string> UpdateWeightsAsync(Action readWeights, string? version)
    {
        var done = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            if (_stopping) throw new ServerBusyException("the server is shutting down");
            _updates.Enqueue(new WeightUpdate(readWeights, version, done));
        }
        _wake.Release();
        return done.Task;
    }

    /// <summary>Refuses new work and waits until every queued and running sequence has finished.</summary>
    public Task DrainAsync()
    {
        lock (_gate)
        {
            _stopping = true;
            _paused = false;
            var idle = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _idleWaiters.Add(idle);
            _wake.Release();
            return idle.Task;
        }
    }

    public void Dispose()
    {
        lock (_gate) { _stopping = true; _stopped = true; }
        _wake.Release();
        _thread.Join(TimeSpan.FromSeconds(30));
    }

    private void Loop()
    {
        while (true)
        {
            lock (_gate)
            {
                if (_stopped) break;
                Admit();
            }
            DropCancelled();
            if (_active.Count == 0)
            {
                if (ApplyWeightUpdate()) continue;
                NotifyIdle();
                // Nothing to step (idle, or paused with requests queued): every Submit, Continue, weight update
                // and stop wakes the loop; the timeout only bounds how late a cancelled queued request is dropped.
                _wake.Wait(TimeSpan.FromMilliseconds(200));
                continue;
            }
            var rows = _generator.StepLive();
            lock (_gate)
            {
                _steps++;
                _decodeRows += rows.DecodeRows;
                _promptRows += rows.PromptRows;
                _maxDecodeRows = Math.Max(_maxDecodeRows, rows.DecodeRows);
            }
            Publish();
        }
        FailAll("the server stopped");
    }

    /// <summary>Moves queued sequences into the live batch while there is room (not while paused or before a
    /// weight update).</summary>
    private void Admit()
    {
        bool hold = _paused || _updates.Count > 0;
        while (!hold && _active.Count < _maxBatch && _pending.TryDequeue(out var job))
        {
            if (job.Cancel.IsCancellationRequested) { Finish(job, [], [], null, stopped: false, cancelled: true); _cancelled++; continue; }
            try
            {
                var seq = _generator.Admit(new GenerationRequest(job.PromptIds, job.Seed), job.Options, job.TopLogProbs);
                _active.Add((job, seq, 0));
            }
            catch (ArgumentException e)
            {
                job.Updates.TryComplete(e);
            }
        }
    }

    private void DropCancelled()
    {
        for (int i = _active.Count - 1; i >= 0; i--)
        {
            var (job, seq, _) = _active[i];
            if (!job.Cancel.IsCancellationRequested) continue;
            _generator.Retire(seq);
            _active.RemoveAt(i);
            lock (_gate) _cancelled++;
            Finish(job, [], [], null, stopped: false, cancelled: true);
        }
    }

    /// <summary>Sends each running sequence's new tokens; retires the finished ones.</summary>
    private void Publish()
    {
        string version = WeightVersion;
        for (int i = _active.Count - 1; i >= 0; i--)
        {
            var (job, seq, sent) = _active[i];
            int count = seq.Tokens.Count;
            var tokens = Slice(seq.Tokens, sent, count);
            var logProbs = Slice(seq.LogProbs, sent, count);
            var top = job.TopLogProbs > 0 ? Slice(seq.TopLogProbs, sent, count) : null;
            if (seq.Done)
            {
                _generator.Retire(seq);
                _active.RemoveAt(i);
                lock (_gate) _completed++;
                Finish(job, tokens, logProbs, top, seq.Stopped, cancelled: false);
                continue;
            }
            _active[i] = (job, seq, count);
            if (tokens.Length > 0) job.Updates.TryWrite(new JobUpdate(job.Choice, tokens, logProbs, top, false, false, false, version));
        }
    }

    private void Finish(GenerationJob job, int[] tokens, float[] logProbs, (int, float)[][]? top, bool stopped, bool cancelled)
    {
        job.Updates.TryWrite(new JobUpdate(job.Choice, tokens, logProbs, top, true, stopped, cancelled, WeightVersion));
    }

    private static T[] Slice<T>(IReadOnlyList<T> items, int from, int to)
    {
        var slice = new T[to - from];
        for (int i = from; i < to; i++) slice[i - from] = items[i];
        return slice;
    }

    /// <summary>Runs the next weight update (only called with no sequence running). Returns whether there was one.</summary>
    private bool ApplyWeightUpdate()
    {
        WeightUpdate? update;
        lock (_gate) _updates.TryDequeue(out update);
        if (update is null) return false;
        try
        {
            update.Apply();
            _generator.RefreshWeights();
            string label;
            lock (_gate)
            {
                _weightUpdates++;
                _weightVersion = label = update.Version ?? _weightUpdates.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }
            update.Done.TrySetResult(label);
        }
        catch (Exception e)
        {
            update.Done.TrySetException(e);
        }
        return true;
    }

    private void NotifyIdle()
    {
        List<TaskCompletionSource> waiters;
        lock (_gate)
        {
            if (_idleWaiters.Count == 0 || (_stopping && _pending.Count > 0)) return;
            waiters = [.. _idleWaiters];
            _idleWaiters.Clear();
        }
        foreach (var w in waiters) w.TrySetResult();
    }

    private void FailAll(string reason)
    {
        List<GenerationJob> left;
        lock (_gate)
        {
            left = [.. _pending, .. _active.Select(a => a.Job)];
            _pending.Clear();
        }
        foreach (var job in left) job.Updates.TryComplete(new ServerBusyException(reason));
        NotifyIdle();
    }

    internal Transformer Model => _model;
}
