using Microsoft.Extensions.Logging;

namespace EdgeMail.Spool;

/// <summary>
/// Group commit of the last two steps of the commit path: rename tmp/ID → queue/ID, then one
/// fsync(queue/) for every rename done so far. Each writer has already fsynced its own file.
/// While one batch is in its directory fsync, the next committers queue up and share the following
/// fsync — so on a slow SD card N concurrent sessions pay for far fewer than N directory fsyncs, and
/// nobody is acknowledged before the fsync that covers their rename has returned.
/// </summary>
internal sealed class GroupCommitter
{
    private readonly ISpoolFileSystem _fs;
    private readonly string _directory;
    private readonly bool _fsync;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private List<Pending> _pending = new();
    private bool _draining;

    private sealed record Pending(string Source, string Destination, TaskCompletionSource Done);

    /// <summary>Committers waiting for the next batch (tests).</summary>
    internal int PendingCount
    {
        get { lock (_gate) return _pending.Count; }
    }

    internal GroupCommitter(ISpoolFileSystem fs, string directory, bool fsync, ILogger logger)
    {
        _fs = fs;
        _directory = directory;
        _fsync = fsync;
        _logger = logger;
    }

    /// <summary>Completes when <paramref name="source"/> has been renamed to <paramref name="destination"/>
    /// and that rename is durable; faults with <see cref="SpoolException"/> otherwise, and then
    /// <paramref name="destination"/> does not exist.</summary>
    internal Task CommitAsync(string source, string destination)
    {
        var pending = new Pending(source, destination, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        bool start;
        lock (_gate)
        {
            _pending.Add(pending);
            start = !_draining;
            _draining = true;
        }
        if (start)
            ThreadPool.UnsafeQueueUserWorkItem(static self => self.Drain(), this, preferLocal: false);
        return pending.Done.Task;
    }

    private void Drain()
    {
        while (true)
        {
            List<Pending> batch;
            lock (_gate)
            {
                if (_pending.Count == 0)
                {
                    _draining = false;
                    return;
                }
                batch = _pending;
                _pending = new List<Pending>();
            }
            try
            {
                RunBatch(batch);
            }
            catch (Exception e)
            {
                // Never leave a committer waiting forever, whatever went wrong.
                foreach (Pending p in batch)
                    p.Done.TrySetException(SpoolErrors.Wrap(e, "commit"));
            }
        }
    }

    private void RunBatch(List<Pending> batch)
    {
        var renamed = new List<Pending>(batch.Count);
        foreach (Pending p in batch)
        {
            try
            {
                _fs.Rename(p.Source, p.Destination);
                renamed.Add(p);
            }
            catch (Exception e)
            {
                p.Done.TrySetException(new SpoolException(SpoolError.IoError, $"rename into queue failed: {e.Message}", e));
            }
        }
        if (renamed.Count == 0)
            return;
        try
        {
            if (_fsync)
                _fs.FlushDirectory(_directory);
        }
        catch (Exception e)
        {
            // The renames happened but may not survive a power cut, and the clients are about to be
            // told 451: remove the files so nothing that looks acknowledged stays in queue/. (If the
            // rename did reach the disk and this unlink does not, a crash can bring the message back
            // and it is delivered although the client will resend it — a duplicate, never a loss.)
            foreach (Pending p in renamed)
            {
                try
                {
                    _fs.Delete(p.Destination);
                }
                catch (Exception de)
                {
                    _logger.LogError("spool: could not remove {Path} after failed directory fsync: {Error}", p.Destination, de.Message);
                }
                p.Done.TrySetException(new SpoolException(SpoolError.IoError, $"fsync of queue directory failed: {e.Message}", e));
            }
            return;
        }
        foreach (Pending p in renamed)
            p.Done.TrySetResult();
    }
}
