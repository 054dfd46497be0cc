using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Win32.SafeHandles;

namespace EdgeMail.Spool;

/// <summary>
/// The durable queue on disk. One file per message, written once; commit = write → fsync(file) →
/// rename into queue/ → fsync(dir), shared between concurrent committers (group commit); state
/// changes after commit go to small append-only side records in state/. Folders (all on one file
/// system, so every transition is a rename):
/// <code>
///   tmp/       messages being received (never acknowledged; removed at open)
///   queue/     committed messages, ready for delivery
///   hold/      committed messages held by the administrator
///   state/     side records (attempts, per-recipient outcomes)
///   corrupt/   files that failed validation (kept for inspection, never deleted)
///   maildrop/  committed drops from the sendmail command (maildrop/tmp/ while being written)
/// </code>
/// Thread-safe: many sessions write at once, the relay reads and records attempts concurrently.
/// One process owns a spool at a time (an exclusive lock on the file "lock"). Opening a spool another
/// process owns gives a read-only view (<see cref="IsReadOnly"/>: no recovery, List/Get/OpenMessage
/// only), so `edgemail queue` works beside the daemon without touching its files in tmp/. Other
/// processes add messages with <see cref="CreateDrop(string, Envelope)"/>.
/// </summary>
public sealed class MessageSpool : IDisposable
{
    private readonly SpoolOptions _options;
    private readonly ISpoolFileSystem _fs;
    private readonly ILogger _logger;
    private readonly string _tmp, _queue, _hold, _state, _corrupt, _maildrop;
    private readonly Lock _gate = new();            // guards _entries and the fields of every Entry
    private readonly Lock _importGate = new();
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private SafeFileHandle? _lockFile;
    private bool _readOnly;
    private bool _dropOnly;
    private long _usedBytes;
    private long _removed;                          // messages that left the queue since open (guarded by _gate)

    internal GroupCommitter Committer { get; }

    /// <summary>
    /// One committed message as the process knows it (header plus side records). The index holds one of these per
    /// queued message for as long as the upstream is away — thousands on a Pi whose smarthost is down — so it is kept
    /// small: the envelope's strings come from <see cref="_strings"/>, the recipients' states exist only once an
    /// attempt changed one, and the entry itself is the lock that serialises file operations on its message.
    /// </summary>
    private sealed class Entry
    {
        public required string Id { get; init; }
        public required Envelope Envelope { get; init; }
        public required int HeaderLength { get; init; }
        public required long MessageLength { get; init; }
        public required long FileLength { get; init; }
        /// <summary>Null while no attempt has touched a recipient: each is then pending, as in the envelope.</summary>
        public RecipientState[]? Recipients;
        public bool Held;
        public bool Removed;
        public bool DelayWarned;
        public int Attempts;
        public string? LastError;
        public DateTimeOffset? NextAttempt;
        public long StateLength;                    // valid bytes in state/ID: where the next record goes

        public int RecipientCount => Envelope.Recipients.Count;
    }

    private readonly EnvelopeStrings _strings = new();

    private MessageSpool(SpoolOptions options, ILogger logger, ISpoolFileSystem fs)
    {
        _options = options;
        _fs = fs;
        _logger = logger;
        Directory = Path.GetFullPath(options.Directory);
        _tmp = Path.Combine(Directory, "tmp");
        _queue = Path.Combine(Directory, "queue");
        _hold = Path.Combine(Directory, "hold");
        _state = Path.Combine(Directory, "state");
        _corrupt = Path.Combine(Directory, "corrupt");
        _maildrop = Path.Combine(Directory, "maildrop");
        Committer = new GroupCommitter(fs, _queue, options.Fsync, logger);
    }

    /// <summary>Opens (creating folders as needed) and runs start-up recovery.</summary>
    public static MessageSpool Open(SpoolOptions options, ILogger? logger = null)
        => Open(options, logger, OsSpoolFileSystem.Instance);

    /// <summary>Opens on a given file layer (tests inject faults through it).
    /// Throws <see cref="SpoolException"/> when the folders cannot be created or another process owns the spool.</summary>
    public static MessageSpool Open(SpoolOptions options, ILogger? logger, ISpoolFileSystem fileSystem)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(fileSystem);
        var spool = new MessageSpool(options, logger ?? NullLogger.Instance, fileSystem);
        try
        {
            spool.CreateFolders();
            if (spool.TryAcquireLock())
            {
                spool.Recovery = spool.Recover();
            }
            else
            {
                spool._readOnly = true;
                spool.LoadReadOnly();
            }
        }
        catch
        {
            spool.Dispose();
            throw;
        }
        return spool;
    }

    /// <summary>
    /// A view for local submission by a process that does not own the spool (sendmail -bs): no lock, no
    /// recovery; <see cref="Create"/> writes into maildrop/ exactly as <see cref="CreateDrop(string, Envelope)"/>
    /// does, and the daemon imports the drops. Reading and changing queued messages throws.
    /// </summary>
    public static MessageSpool OpenDropbox(string spoolDirectory, ILogger? logger = null)
    {
        var spool = new MessageSpool(new SpoolOptions { Directory = spoolDirectory }, logger ?? NullLogger.Instance, OsSpoolFileSystem.Instance);
        spool._readOnly = true;
        spool._dropOnly = true;
        return spool;
    }

    public string Directory { get; }

    /// <summary>True when another process owns this spool: this instance only reads (List, Get,
    /// OpenMessage); everything that would change the spool throws <see cref="SpoolException"/>.
    /// A daemon must refuse to start on a read-only spool.</summary>
    public bool IsReadOnly => _readOnly;

    /// <summary>What start-up recovery found and did.</summary>
    public RecoveryReport Recovery { get; private set; } = new();

    /// <summary>Bytes of queue files currently counted against <see cref="SpoolOptions.MaxSpoolBytes"/>
    /// (committed files plus messages being received).</summary>
    public long UsedBytes => Interlocked.Read(ref _usedBytes);

    /// <summary>Raised after a message is durably committed (argument: queue ID). Used by the relay scheduler.</summary>
    public event Action<string>? Committed;

    /// <summary>Would a message of <paramref name="size"/> bytes fit (spool limit and free space)? Used at MAIL FROM SIZE=.</summary>
    public bool HasRoomFor(long size)
    {
        if (size < 0)
            return false;
        if (_dropOnly)
            return _fs.GetFreeBytes(Directory) - size >= _options.MinFreeBytes;
        if (_options.MaxSpoolBytes > 0 && UsedBytes + size > _options.MaxSpoolBytes)
            return false;
        return FreeBytes() - size >= _options.MinFreeBytes;
    }

    /// <summary>Starts a new message: allocates its queue ID and creates its temporary file.
    /// Throws <see cref="SpoolException"/>.</summary>
    public SpoolWriter Create(Envelope envelope)
    {
        if (_dropOnly)
            return CreateDrop(Directory, envelope, _fs);
        envelope = Freeze(envelope);
        ThrowIfReadOnly();
        string id = QueueId.New();
        byte[] header = QueueFile.EncodeHeader(id, envelope);
        if (!TryReserve(header.Length, out string? why))
            throw new SpoolException(SpoolError.InsufficientStorage, why);
        string tempPath = Path.Combine(_tmp, id);
        SafeFileHandle? file = null;
        try
        {
            file = _fs.CreateNew(tempPath);
            _fs.Write(file, header, 0);
        }
        catch (Exception e)
        {
            file?.Dispose();
            if (file is not null)
                TryDelete(tempPath);
            Release(header.Length);
            throw SpoolErrors.Wrap(e, "create");
        }
        return new SpoolWriter(this, _fs, _logger, id, envelope, tempPath, _queue, _options.Fsync, file, header, header.Length);
    }

    /// <summary>Every committed message (held ones included), oldest first.</summary>
    public IReadOnlyList<QueueEntry> List()
    {
        var list = new List<QueueEntry>();
        lock (_gate)
        {
            foreach (Entry e in _entries.Values)
                list.Add(Snapshot(e));
        }
        list.Sort(static (a, b) => string.CompareOrdinal(a.Id, b.Id)); // IDs sort by arrival time
        return list;
    }

    /// <summary>What the status LEDs need to know of the queue, counted without copying the index
    /// (a <see cref="List"/> every few seconds with thousands queued is garbage the size of the index).</summary>
    public QueueCounts Count(DateTimeOffset now)
    {
        int total = 0, held = 0, deferred = 0, due = 0, failing = 0;
        lock (_gate)
        {
            foreach (Entry e in _entries.Values)
            {
                total++;
                if (e.Held) { held++; continue; }
                if (e.Attempts > 0) deferred++;
                if (e.NextAttempt is not { } next || next <= now) due++;
                else if (e.Attempts > 0 && e.LastError is not null) failing++;
            }
            return new QueueCounts(total, held, deferred, due, failing, _removed);
        }
    }

    /// <summary>One message, or null when the ID is unknown (or not a valid queue ID).</summary>
    public QueueEntry? Get(string id)
    {
        if (!QueueId.IsValid(id))
            return null;
        lock (_gate)
            return _entries.TryGetValue(id, out Entry? e) ? Snapshot(e) : null;
    }

    /// <summary>A read-only stream over exactly the message bytes (no spool header or trailer).
    /// Throws <see cref="KeyNotFoundException"/> for an unknown or invalid ID.</summary>
    public Stream OpenMessage(string id)
    {
        Entry entry = Find(id) ?? throw new KeyNotFoundException($"no queued message {Sanitize(id)}");
        lock (entry)
        {
            if (entry.Removed)
                throw new KeyNotFoundException($"message {id} was removed");
            SafeFileHandle file = _fs.OpenRead(MessagePath(entry));
            return new MessageReadStream(file, entry.HeaderLength, entry.MessageLength);
        }
    }

    /// <summary>Appends one delivery attempt to the message's side record (fsynced).
    /// Throws <see cref="KeyNotFoundException"/> for an unknown ID, <see cref="SpoolException"/> when it cannot be recorded.</summary>
    public void RecordAttempt(string id, AttemptRecord attempt)
    {
        ArgumentNullException.ThrowIfNull(attempt);
        ThrowIfReadOnly();
        Entry entry = Find(id) ?? throw new KeyNotFoundException($"no queued message {Sanitize(id)}");
        byte[] record = SideRecord.Encode(attempt);
        lock (entry)
        {
            if (entry.Removed)
                throw new KeyNotFoundException($"message {id} was removed");
            try
            {
                using SafeFileHandle file = _fs.OpenOrCreate(Path.Combine(_state, id));
                _fs.Write(file, record, entry.StateLength);
                if (_options.Fsync)
                {
                    _fs.FlushFile(file);
                    if (entry.StateLength == 0)
                        _fs.FlushDirectory(_state); // the side record's name is new: make it durable too
                }
            }
            catch (Exception e)
            {
                throw SpoolErrors.Wrap(e, $"record attempt for {id}");
            }
            lock (_gate)
            {
                entry.StateLength += record.Length;
                Apply(entry, attempt);
            }
        }
    }

    /// <summary>Removes a message whose recipients all have a final outcome (message file and side record).
    /// Completing an unknown or already removed message does nothing.</summary>
    public void Complete(string id)
    {
        if (Remove(id))
            _logger.LogInformation("spool: {Id} completed, removed from queue", id);
    }

    /// <summary>Removes a message (administrator action). False when there is no such message.</summary>
    public bool Delete(string id)
    {
        bool removed = Remove(id);
        if (removed)
            _logger.LogInformation("spool: {Id} deleted", id);
        return removed;
    }

    /// <summary>Moves a message from queue/ to hold/ (not delivered until released). False when unknown or already held.</summary>
    public bool Hold(string id) => Move(id, hold: true);

    /// <summary>Moves a held message back to queue/. False when unknown or not held.</summary>
    public bool Release(string id) => Move(id, hold: false);

    /// <summary>Moves every valid drop in maildrop/ into the queue (keeping its queue ID), makes the renames
    /// durable and raises <see cref="Committed"/> for each. Returns how many were imported. Invalid drops
    /// go to corrupt/. Open() imports too; the daemon calls this when the sendmail command signals it
    /// or periodically.</summary>
    public int ImportMaildrop()
    {
        ThrowIfReadOnly();
        var imported = new List<Entry>();
        lock (_importGate)
        {
            IReadOnlyList<string> names;
            try
            {
                names = _fs.ListFiles(_maildrop);
            }
            catch (Exception e)
            {
                _logger.LogError("spool: cannot list maildrop: {Error}", e.Message);
                return 0;
            }
            foreach (string name in names.Order(StringComparer.Ordinal))  // oldest first
            {
                if (!QueueId.IsValid(name))
                {
                    MoveToCorrupt(_maildrop, name, "not a queue ID");
                    continue;
                }
                QueueFile.Info? info = ReadValid(Path.Combine(_maildrop, name), name, out string reason);
                if (info is null)
                {
                    MoveToCorrupt(_maildrop, name, reason);
                    continue;
                }
                bool taken;
                lock (_gate)
                    taken = _entries.ContainsKey(name);
                if (taken || _fs.Exists(Path.Combine(_queue, name)) || _fs.Exists(Path.Combine(_hold, name)))
                {
                    _logger.LogWarning("spool: maildrop {Id} not imported: the queue already has that ID", name);
                    continue;
                }
                try
                {
                    _fs.Rename(Path.Combine(_maildrop, name), Path.Combine(_queue, name));
                }
                catch (Exception e)
                {
                    _logger.LogError("spool: maildrop {Id} not imported: {Error}", name, e.Message);
                    continue;
                }
                imported.Add(NewEntry(info, held: false, _strings));
            }
            if (imported.Count == 0)
                return 0;
            try
            {
                if (_options.Fsync)
                    _fs.FlushDirectory(_queue);
            }
            catch (Exception e)
            {
                // Nothing is lost: the drop was durable in maildrop/ before; if this rename does not
                // survive a crash the file is still (again) in maildrop/ and is imported next time.
                _logger.LogError("spool: fsync of queue directory after maildrop import failed: {Error}", e.Message);
            }
            lock (_gate)
            {
                foreach (Entry e in imported)
                {
                    _entries[e.Id] = e;
                    QueueId.AdvancePast(e.Id);
                }
            }
            foreach (Entry e in imported)
                ForceReserve(e.FileLength);
        }
        foreach (Entry e in imported)
        {
            _logger.LogInformation("spool: queued {Id} from maildrop, from=<{Sender}> rcpts={Count} size={Size}",
                e.Id, e.Envelope.Sender, e.RecipientCount, e.MessageLength);
            RaiseCommitted(e.Id);
        }
        return imported.Count;
    }

    /// <summary>
    /// Starts a message for the local sendmail command: works without a daemon and without opening the
    /// spool. The same file format is written into maildrop/tmp/; commit = fsync(file) → rename into
    /// maildrop/ → fsync(maildrop/). The daemon's <see cref="ImportMaildrop"/> moves it into the queue.
    /// Throws <see cref="SpoolException"/>.
    /// </summary>
    public static SpoolWriter CreateDrop(string spoolDirectory, Envelope envelope)
        => CreateDrop(spoolDirectory, envelope, OsSpoolFileSystem.Instance);

    public static SpoolWriter CreateDrop(string spoolDirectory, Envelope envelope, ISpoolFileSystem fileSystem)
    {
        envelope = Freeze(envelope);
        string root = Path.GetFullPath(spoolDirectory);
        string maildrop = Path.Combine(root, "maildrop");
        string dropTmp = Path.Combine(maildrop, "tmp");
        try
        {
            fileSystem.CreateDirectory(root);
            fileSystem.CreateDirectory(maildrop);
            fileSystem.CreateDirectory(dropTmp);
        }
        catch (Exception e)
        {
            throw SpoolErrors.Wrap(e, "create maildrop folders");
        }
        string id = QueueId.New();
        byte[] header = QueueFile.EncodeHeader(id, envelope);
        string tempPath = Path.Combine(dropTmp, id);
        SafeFileHandle? file = null;
        try
        {
            file = fileSystem.CreateNew(tempPath);
            // A maildrop folder with the set-group-ID bit (the device install: group edgemail, mode 3733) gives
            // every drop the daemon's group; 0640 lets the daemon read a drop written by root or another local
            // user (Postfix solves the same with a setgid postdrop). Elsewhere drops stay owner-only.
            if (!OperatingSystem.IsWindows() && (File.GetUnixFileMode(dropTmp) & UnixFileMode.SetGroup) != 0)
                File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);
            fileSystem.Write(file, header, 0);
        }
        catch (Exception e)
        {
            file?.Dispose();
            if (file is not null)
            {
                try { fileSystem.Delete(tempPath); } catch (IOException) { }
            }
            throw SpoolErrors.Wrap(e, "create maildrop file");
        }
        return new SpoolWriter(null, fileSystem, NullLogger.Instance, id, envelope, tempPath, maildrop, fsync: true, file, header, 0);
    }

    /// <summary>
    /// Reads the queue of a spool without opening it (no lock, no recovery, nothing written): for
    /// `edgemail queue` while the daemon owns the spool. Files that do not validate are skipped.
    /// </summary>
    public static IReadOnlyList<QueueEntry> ReadQueue(string spoolDirectory)
    {
        var list = new List<QueueEntry>();
        foreach (Entry entry in LoadEntries(Path.GetFullPath(spoolDirectory), OsSpoolFileSystem.Instance))
            list.Add(Snapshot(entry));
        list.Sort(static (a, b) => string.CompareOrdinal(a.Id, b.Id));
        return list;
    }

    private static List<Entry> LoadEntries(string root, ISpoolFileSystem fs)
    {
        var entries = new List<Entry>();
        foreach ((string folder, bool held) in new[] { ("queue", false), ("hold", true) })
        {
            string dir = Path.Combine(root, folder);
            if (!System.IO.Directory.Exists(dir))
                continue;
            foreach (string name in fs.ListFiles(dir))
            {
                if (!QueueId.IsValid(name))
                    continue;
                try
                {
                    using SafeFileHandle file = fs.OpenRead(Path.Combine(dir, name));
                    QueueFile.Info? info = QueueFile.TryRead(file, verifyChecksum: false, out _);
                    if (info is null || info.Id != name)
                        continue;
                    Entry entry = NewEntry(info, held);
                    string statePath = Path.Combine(root, "state", name);
                    if (fs.Exists(statePath))
                    {
                        using SafeFileHandle state = fs.OpenRead(statePath);
                        foreach (AttemptRecord a in SideRecord.ReadAll(state, out _))
                            Apply(entry, a);
                    }
                    entries.Add(entry);
                }
                catch (IOException)
                {
                    // removed or moved while we looked: not in the snapshot
                }
            }
        }
        return entries;
    }

    private void LoadReadOnly()
    {
        _logger.LogWarning("spool: {Directory} is owned by another process; opened read-only", Directory);
        lock (_gate)
        {
            foreach (Entry e in LoadEntries(Directory, _fs))
                _entries.TryAdd(e.Id, e);
        }
    }

    private void ThrowIfReadOnly()
    {
        if (_readOnly)
            throw new SpoolException(SpoolError.IoError, $"spool {Directory} is owned by another process (read-only view)");
    }

    public void Dispose()
    {
        _lockFile?.Dispose();
        _lockFile = null;
    }

    internal void OnCommitted(string id) => Committed?.Invoke(id);

    // ---- used by SpoolWriter ----

    /// <summary>Counts <paramref name="bytes"/> against the spool limit if they fit under it and above the free-space floor.</summary>
    internal bool TryReserve(long bytes, out string why)
    {
        long max = _options.MaxSpoolBytes;
        if (max > 0)
        {
            long current;
            do
            {
                current = Interlocked.Read(ref _usedBytes);
                if (current + bytes > max)
                {
                    why = $"spool size limit of {max} bytes reached";
                    return false;
                }
            }
            while (Interlocked.CompareExchange(ref _usedBytes, current + bytes, current) != current);
        }
        else
        {
            Interlocked.Add(ref _usedBytes, bytes);
        }
        // statvfs on every write is one cheap syscall; it lets a message stop as soon as the floor is
        // reached instead of after filling the card (other processes write to it too).
        if (FreeBytes() - bytes < _options.MinFreeBytes)
        {
            Interlocked.Add(ref _usedBytes, -bytes);
            why = $"free space below the minimum of {_options.MinFreeBytes} bytes";
            return false;
        }
        why = "";
        return true;
    }

    internal void ForceReserve(long bytes) => Interlocked.Add(ref _usedBytes, bytes);

    internal void Release(long bytes)
    {
        if (bytes != 0)
            Interlocked.Add(ref _usedBytes, -bytes);
    }

    internal void OnWriterCommitted(SpoolWriter writer, Envelope envelope, int headerLength, long messageLength, long fileLength)
    {
        var entry = new Entry
        {
            Id = writer.QueueId,
            Envelope = _strings.Share(envelope),
            HeaderLength = headerLength,
            MessageLength = messageLength,
            FileLength = fileLength,
        };
        lock (_gate)
            _entries[entry.Id] = entry;
        _logger.LogInformation("spool: queued {Id} from=<{Sender}> rcpts={Count} size={Size}",
            entry.Id, envelope.Sender, envelope.Recipients.Count, messageLength);
        RaiseCommitted(entry.Id);
    }

    // ---- recovery ----

    private void CreateFolders()
    {
        try
        {
            _fs.CreateDirectory(Directory);
            if (!OperatingSystem.IsWindows())
            {
                try
                {
                    // Owner-only. One exception: when maildrop/ is a set-group-ID drop box (the device install,
                    // 3733), the root keeps execute for group/others (0711) so a local user's sendmail can reach
                    // it; nobody else may list or change the spool either way.
                    const UnixFileMode owner = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
                    const UnixFileMode traverse = UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
                    bool dropBox = System.IO.Directory.Exists(_maildrop)
                        && (File.GetUnixFileMode(_maildrop) & UnixFileMode.SetGroup) != 0;
                    UnixFileMode mode = File.GetUnixFileMode(Directory);
                    UnixFileMode wanted = dropBox ? owner | (mode & traverse) : owner;
                    if (mode != wanted)
                        File.SetUnixFileMode(Directory, wanted);
                }
                catch (Exception e) when (e is UnauthorizedAccessException or IOException)
                {
                    _logger.LogWarning("spool: cannot make {Directory} owner-only: {Error}", Directory, e.Message);
                }
            }
            foreach (string dir in new[] { _tmp, _queue, _hold, _state, _corrupt, _maildrop, Path.Combine(_maildrop, "tmp") })
                _fs.CreateDirectory(dir);
        }
        catch (Exception e)
        {
            throw SpoolErrors.Wrap(e, $"create spool folders in {Directory}");
        }
    }

    private bool TryAcquireLock()
    {
        string path = Path.Combine(Directory, "lock");
        try
        {
            // FileShare.None is an exclusive, non-blocking flock(2) on Unix; the kernel drops it when
            // the process dies (kill -9 included), so a crash never leaves a stale lock behind.
            _lockFile = File.OpenHandle(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            return true;
        }
        catch (IOException) when (File.Exists(path))
        {
            return false;
        }
        catch (Exception e)
        {
            throw SpoolErrors.Wrap(e, $"lock spool {Directory}");
        }
    }

    private RecoveryReport Recover()
    {
        int temporary = 0, corrupt = 0, orphans = 0;

        // tmp/: never acknowledged, so never anybody's message yet.
        foreach (string name in ListOrEmpty(_tmp))
        {
            if (TryDelete(Path.Combine(_tmp, name)))
                temporary++;
        }
        // maildrop/tmp/: a sendmail process may be writing right now (it needs no daemon); only
        // leftovers older than a day are certainly abandoned.
        string dropTmp = Path.Combine(_maildrop, "tmp");
        foreach (string name in ListOrEmpty(dropTmp))
        {
            string path = Path.Combine(dropTmp, name);
            if (DateTime.UtcNow - File.GetLastWriteTimeUtc(path) > TimeSpan.FromDays(1) && TryDelete(path))
                temporary++;
        }

        var found = new List<Entry>();
        int recovered = 0;
        foreach ((string dir, bool held) in new[] { (_queue, false), (_hold, true) })
        {
            foreach (string name in ListOrEmpty(dir))
            {
                QueueFile.Info? info = null;
                string reason = "not a queue ID";
                if (QueueId.IsValid(name))
                    info = ReadValid(Path.Combine(dir, name), name, out reason);
                if (info is null)
                {
                    if (MoveToCorrupt(dir, name, reason))
                        corrupt++;
                    continue;
                }
                found.Add(NewEntry(info, held, _strings));
            }
        }
        lock (_gate)
        {
            foreach (Entry e in found)
            {
                if (!_entries.TryAdd(e.Id, e))
                {
                    // Same ID in queue/ and hold/ (a crash between two renames cannot do this, a copy can):
                    // keep the queued one, set the held copy aside.
                    if (MoveToCorrupt(_hold, e.Id, "duplicate of a queued message"))
                        corrupt++;
                    continue;
                }
                recovered++;
                QueueId.AdvancePast(e.Id);
            }
        }

        foreach (string name in ListOrEmpty(_state))
        {
            Entry? entry;
            lock (_gate)
                entry = QueueId.IsValid(name) && _entries.TryGetValue(name, out Entry? e) ? e : null;
            if (entry is null)
            {
                if (TryDelete(Path.Combine(_state, name)))
                    orphans++;
                continue;
            }
            try
            {
                using SafeFileHandle file = _fs.OpenRead(Path.Combine(_state, name));
                List<AttemptRecord> records = SideRecord.ReadAll(file, out long valid);
                lock (_gate)
                {
                    entry.StateLength = valid;
                    foreach (AttemptRecord a in records)
                        Apply(entry, a);
                }
            }
            catch (Exception e)
            {
                _logger.LogWarning("spool: side record of {Id} unreadable, delivery state starts afresh: {Error}", name, e.Message);
            }
        }

        long used = 0;
        lock (_gate)
        {
            foreach (Entry e in _entries.Values)
                used += e.FileLength;
        }
        Interlocked.Exchange(ref _usedBytes, used);

        int imported = ImportMaildrop();
        var report = new RecoveryReport
        {
            Recovered = recovered,
            TemporaryRemoved = temporary,
            MovedToCorrupt = corrupt,
            OrphanStateRemoved = orphans,
            Imported = imported,
        };
        _logger.LogInformation(
            "spool: opened {Directory}: {Recovered} queued, {Temporary} temporary removed, {Corrupt} moved to corrupt/, {Orphans} orphan side records removed, {Imported} imported from maildrop",
            Directory, report.Recovered, report.TemporaryRemoved, report.MovedToCorrupt, report.OrphanStateRemoved, report.Imported);
        return report;
    }

    /// <summary>Full validation (checksum included) of one queue file whose name is a valid ID.</summary>
    private QueueFile.Info? ReadValid(string path, string name, out string reason)
    {
        try
        {
            using SafeFileHandle file = _fs.OpenRead(path);
            QueueFile.Info? info = QueueFile.TryRead(file, verifyChecksum: true, out reason);
            if (info is not null && info.Id != name)
            {
                reason = $"header names queue ID {info.Id}";
                return null;
            }
            return info;
        }
        catch (Exception e)
        {
            reason = $"unreadable: {e.Message}";
            return null;
        }
    }

    private bool MoveToCorrupt(string directory, string name, string reason)
    {
        string target = Path.Combine(_corrupt, name);
        for (int n = 1; _fs.Exists(target); n++)
            target = Path.Combine(_corrupt, $"{name}.{n}");
        try
        {
            _fs.Rename(Path.Combine(directory, name), target);
        }
        catch (Exception e)
        {
            _logger.LogError("spool: {File} is invalid ({Reason}) and could not be moved to corrupt/: {Error}",
                Path.Combine(directory, name), reason, e.Message);
            return false;
        }
        _logger.LogWarning("spool: moved {File} to {Target}: {Reason}", Path.Combine(directory, name), target, reason);
        // Its side record goes along, for whoever inspects the damage.
        if (QueueId.IsValid(name) && directory != _maildrop && _fs.Exists(Path.Combine(_state, name)))
        {
            try
            {
                _fs.Rename(Path.Combine(_state, name), target + ".state");
            }
            catch (Exception e)
            {
                _logger.LogWarning("spool: side record of {Id} not moved to corrupt/: {Error}", name, e.Message);
            }
        }
        return true;
    }

    // ---- helpers ----

    private static Entry NewEntry(QueueFile.Info info, bool held, EnvelopeStrings? strings = null) => new()
    {
        Id = info.Id,
        Envelope = strings is null ? info.Envelope : strings.Share(info.Envelope),
        HeaderLength = info.HeaderLength,
        MessageLength = info.MessageLength,
        FileLength = info.FileLength,
        Held = held,
    };

    /// <summary>Every recipient of the envelope, pending, with no reply yet: a message no attempt has touched.</summary>
    internal static RecipientState[] InitialRecipients(Envelope envelope)
    {
        var recipients = new RecipientState[envelope.Recipients.Count];
        for (int i = 0; i < recipients.Length; i++)
            recipients[i] = new RecipientState(envelope.Recipients[i], RecipientStatus.Pending, null);
        return recipients;
    }

    /// <summary>Merges one attempt into what we know: the count, the last error, the next attempt time (none of
    /// them for a partial record), whether the delay notice went out, and the status of each recipient it names
    /// (matched by address).</summary>
    private static void Apply(Entry entry, AttemptRecord attempt)
    {
        if (!attempt.Partial)
        {
            entry.Attempts++;
            if (attempt.Error is not null)
                entry.LastError = attempt.Error;
            entry.NextAttempt = attempt.NextAttempt;
        }
        entry.DelayWarned |= attempt.DelayWarned;
        if (attempt.Recipients.Count == 0)
            return;
        entry.Recipients ??= InitialRecipients(entry.Envelope);
        foreach (RecipientState change in attempt.Recipients)
        {
            bool matched = false;
            for (int i = 0; i < entry.Recipients.Length; i++)
            {
                if (string.Equals(entry.Recipients[i].Address, change.Address, StringComparison.Ordinal))
                {
                    entry.Recipients[i] = change with { Address = entry.Recipients[i].Address };
                    matched = true;
                }
            }
            if (!matched)
            {
                // RFC 5321 §2.4: only the local part is case-sensitive, and in practice relays may
                // normalise the domain; fall back to a case-insensitive match.
                for (int i = 0; i < entry.Recipients.Length; i++)
                {
                    if (string.Equals(entry.Recipients[i].Address, change.Address, StringComparison.OrdinalIgnoreCase))
                        entry.Recipients[i] = change with { Address = entry.Recipients[i].Address };
                }
            }
        }
    }

    private static QueueEntry Snapshot(Entry e) => new()
    {
        Id = e.Id,
        Envelope = e.Envelope,
        Size = e.MessageLength,
        Recipients = e.Recipients is { } changed ? (RecipientState[])changed.Clone() : InitialRecipients(e.Envelope),
        Attempts = e.Attempts,
        LastError = e.LastError,
        NextAttempt = e.NextAttempt,
        Held = e.Held,
        DelayWarned = e.DelayWarned,
    };

    private Entry? Find(string id)
    {
        if (!QueueId.IsValid(id))
            return null;
        lock (_gate)
            return _entries.TryGetValue(id, out Entry? e) ? e : null;
    }

    private string MessagePath(Entry entry) => Path.Combine(entry.Held ? _hold : _queue, entry.Id);

    private bool Remove(string id)
    {
        ThrowIfReadOnly();
        Entry? entry = Find(id);
        if (entry is null)
            return false;
        lock (entry)
        {
            if (entry.Removed)
                return false;
            try
            {
                // The message first: a side record without its message is removed at the next open,
                // the reverse would be a message that forgot its deliveries. No directory fsync: if a
                // power cut undoes the unlink the message is delivered again — a duplicate, not a loss.
                _fs.Delete(MessagePath(entry));
                _fs.Delete(Path.Combine(_state, entry.Id));
            }
            catch (Exception e)
            {
                throw SpoolErrors.Wrap(e, $"remove {id}");
            }
            entry.Removed = true;
        }
        lock (_gate)
        {
            _entries.Remove(id);
            _removed++;
        }
        Release(entry.FileLength);
        return true;
    }

    private bool Move(string id, bool hold)
    {
        ThrowIfReadOnly();
        Entry? entry = Find(id);
        if (entry is null)
            return false;
        lock (entry)
        {
            if (entry.Removed || entry.Held == hold)
                return false;
            string from = MessagePath(entry);
            string to = Path.Combine(hold ? _hold : _queue, entry.Id);
            try
            {
                _fs.Rename(from, to);
            }
            catch (Exception e)
            {
                throw SpoolErrors.Wrap(e, hold ? $"hold {id}" : $"release {id}");
            }
            lock (_gate)
                entry.Held = hold;
            try
            {
                if (_options.Fsync)
                    _fs.FlushDirectory(hold ? _hold : _queue);
            }
            catch (Exception e)
            {
                // The move happened; only its durability is in doubt (after a power cut the message
                // may be back where it was). Not worth failing an administrator's command over.
                _logger.LogWarning("spool: {Id} {Action}, but the directory fsync failed: {Error}", id, hold ? "held" : "released", e.Message);
            }
        }
        _logger.LogInformation("spool: {Id} {Action}", id, hold ? "held" : "released");
        return true;
    }

    private long FreeBytes()
    {
        try
        {
            return _fs.GetFreeBytes(Directory);
        }
        catch (Exception e)
        {
            // Without statvfs we cannot tell; the ENOSPC mapping still protects the write path.
            _logger.LogWarning("spool: cannot read free space: {Error}", e.Message);
            return long.MaxValue;
        }
    }

    private IReadOnlyList<string> ListOrEmpty(string dir)
    {
        try
        {
            return _fs.ListFiles(dir);
        }
        catch (Exception e)
        {
            _logger.LogError("spool: cannot list {Directory}: {Error}", dir, e.Message);
            return [];
        }
    }

    private bool TryDelete(string path)
    {
        try
        {
            _fs.Delete(path);
            return true;
        }
        catch (Exception e)
        {
            _logger.LogWarning("spool: could not remove {Path}: {Error}", path, e.Message);
            return false;
        }
    }

    private void RaiseCommitted(string id)
    {
        try
        {
            OnCommitted(id);
        }
        catch (Exception e)
        {
            // The message is durable whatever a subscriber does; its failure must not become a 451.
            _logger.LogError("spool: Committed handler failed for {Id}: {Error}", id, e.Message);
        }
    }

    /// <summary>Checks the envelope and takes a private copy: a session may reuse its recipient list
    /// for the next transaction, and the queue must keep what was committed.</summary>
    private static Envelope Freeze(Envelope envelope)
    {
        ArgumentNullException.ThrowIfNull(envelope);
        ArgumentNullException.ThrowIfNull(envelope.Sender);
        ArgumentNullException.ThrowIfNull(envelope.Recipients);
        ArgumentNullException.ThrowIfNull(envelope.ClientAddress);
        if (envelope.Recipients.Count == 0)
            throw new ArgumentException("a message needs at least one recipient", nameof(envelope));
        return new Envelope
        {
            Sender = envelope.Sender,
            Recipients = envelope.Recipients.ToArray(),
            ClientAddress = envelope.ClientAddress,
            Helo = envelope.Helo ?? "",
            Protocol = envelope.Protocol ?? "ESMTP",
            Body = envelope.Body,
            SmtpUtf8 = envelope.SmtpUtf8,
            AuthenticatedUser = envelope.AuthenticatedUser,
            Arrived = envelope.Arrived,
        };
    }

    private static string Sanitize(string? id)
        => id is null ? "(null)" : QueueId.IsValid(id) ? id : "(invalid ID)";
}
