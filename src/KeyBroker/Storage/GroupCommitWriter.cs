// Group commit for the relational stores.
//
// One writer connection per store instance. A logical write transaction (what BeginWrite returns) holds
// the in-process writer lock and runs inside a SAVEPOINT of the current physical transaction, which
// holds the database's writer lock (SQLite BEGIN IMMEDIATE, a PostgreSQL transaction-level advisory
// lock). When a logical transaction commits, its savepoint is released; if other writers are queued,
// the lock is handed to the next one and the physical transaction stays open; after the last writer of
// the queue (or the one that fills the batch, or the first after MaxBatchAge) the lock passes to the
// flusher thread, which commits the physical transaction and then releases the lock. Commit() returns
// only when the physical commit that holds it is durable, and throws if that commit failed, so a caller
// never acts on a write that is not on disk. A logical transaction disposed without commit rolls back to its savepoint and leaves the others
// of the batch untouched. Any failure of the physical transaction fails every logical transaction of the
// batch: all or nothing, as if each had failed its own commit.
//
// Every wait has an asynchronous form (BeginAsync, CompleteAsync), which the release path uses: a request
// waiting for the writer lock or for its batch to become durable holds no thread, so a burst of concurrent
// releases cannot starve the thread pool (a starved pool delays reading request bodies until Kestrel's minimum
// data rate aborts the connection, which was seen with 16 concurrent releases on PostgreSQL).
//
// Round trips: on a server database (StoreDialect.BatchesStatements) the savepoint statements are not sent on
// their own. SAVEPOINT waits for the logical transaction's first statement and RELEASE for the next statement
// of any transaction, each sent with it in one command; a logical transaction that wrote nothing sends neither.
// An insert whose only outcome is its one row (InsertOne: the audit entry) waits the same way. Its failure then
// surfaces in a later statement, perhaps of another logical transaction, after its own has ended as committed:
// so any failure of a command carrying such an insert fails the whole batch.
// Deferred inserts accumulate (their parameters renamed apart) and all travel with the next statement that must
// go at once. The audit head row, which only ever holds the latest signed tree head, is written once per physical
// transaction, just before COMMIT (PendingAuditHead, restored when a logical transaction rolls back).
//
// Nonce consumption on a server database costs no round trip of its own either. Only writers take the store's
// writer lock, and only writers insert consumed nonces, so while a physical transaction holds that lock a nonce the
// database does not hold can only be consumed by this transaction. The first consumption that finds its nonce not yet
// looked up in this physical transaction looks up, in one query, that nonce and those of every write queued behind
// it (RunAsync with a nonce hash names it in advance); a nonce found there is a replay, one consumed earlier in this
// transaction (by a logical transaction that did not roll back) too, and any other is consumed by a deferred plain
// INSERT, which can only fail if that reasoning did, and then fails the batch: nothing is released twice. The
// lookups are forgotten when a physical transaction begins or aborts. A release on PostgreSQL thus sends its two
// inserts with the statements of the releases around it: a batch of n releases costs a handful of round trips, not n.
//
// A physical transaction on a server database begins in one round trip, whatever its first write reads: the
// writer lock (StoreDialect.BeginWriteDeferringLock) is deferred like a SAVEPOINT, so it leads the first command
// that goes out, and that command also carries, after its own query, the reads the batch will need (prefetches):
// the stored audit head (valid until the commit, since only the flusher writes it), the last stored audit entry
// (valid until this writer inserts one or a logical transaction rolls back) and the nonces of this write and of
// those queued behind it. Everything in the command runs after the lock, in order; a read the batch needs later
// (and, on SQLite, every read) goes when it is needed, carrying any prefetch still waiting. A batch therefore costs
// about four round trips however many writes it holds: that one, one for nonces of writes queued after it, the head
// row and COMMIT (it was about seven and a half, and on a database a few milliseconds away the begin alone
// outlasted MaxBatchAge, so every write became a batch of its own). The age of a batch runs from its first commit
// for the same reason.
//
// RunAsync takes a write as a job for the writer's own thread, which runs queued jobs one after the other, each a
// logical transaction of the current batch. A writer lock handed from one awaiting caller to the next goes through
// the thread pool, where it waits behind whatever CPU work is queued (on two busy cores, most of a release's time
// in the lock was that wait); a job that follows a job on the same thread takes the lock at once. The job thread
// never waits for durability itself: each job's task completes when its batch is durable.
//
// The writer also keeps the audit log's tail as the last append of the current physical transaction left it
// (CachedAuditTail), so consecutive appends of one batch do not re-read it, and the latest record of each key
// it read (LatestKey), so the releases of one batch check their key with one read. Both are forgotten whenever
// the database may hold something else: when a physical transaction begins (another process may have written
// before it) and when a logical transaction rolls back or the batch aborts; a key's record also when this
// writer inserts or updates a version of it.
using System.Data.Common;

namespace Enclave.KeyBroker.Storage;

internal sealed class GroupCommitWriter : IDisposable
{
    /// <summary>Logical transactions committed together at most.</summary>
    public const int DefaultMaxBatch = 64;

    /// <summary>How long a physical transaction keeps taking queued writers after its first logical transaction
    /// committed (not after it began: on a distant database beginning takes a round trip or more, and a batch whose
    /// age counted that would close after its first writer, ending group commit when it matters most). Without
    /// a bound, callers that wait for durability on their own threads (the synchronous Commit) can starve the
    /// thread pool while each newly injected thread queues one more writer, so the batch would only commit
    /// when it was full, seconds later.</summary>
    public static readonly TimeSpan MaxBatchAge = TimeSpan.FromMilliseconds(10);

    private readonly StoreDialect _dialect;
    private readonly int _maxBatch;
    private readonly SemaphoreSlim _writerLock = new(1, 1);
    private readonly SemaphoreSlim _flushRequest = new(0, 1);
    private readonly Thread _flusher;
    private int _queued;
    private volatile bool _stopping;
    private DbConnection? _connection;
    private DbTransaction? _transaction;
    private Batch _batch = new();
    private readonly Dictionary<string, DbCommand> _commands = new(StringComparer.Ordinal);
    private long _lastPurgeMs = long.MinValue;
    private long _purgedUpToMs = long.MinValue;
    private AuditTailRecord? _auditTail;
    private readonly HashSet<string> _noncesLookedUp = new(StringComparer.Ordinal);
    private readonly HashSet<string> _noncesStored = new(StringComparer.Ordinal);
    private readonly HashSet<string> _noncesConsumed = new(StringComparer.Ordinal);
    private readonly List<string> _noncesConsumedByOpen = [];
    private readonly Dictionary<string, KeyVersionRecord?> _keyReads = new(StringComparer.Ordinal);
    private AuditHeadRecord? _pendingHead;
    private AuditHeadRecord? _headAtSavepoint;
    private readonly List<Deferred> _pendingStatements = [];

    // Queries that go out with the first query of a physical transaction on a server database, and what they read
    // (see the file header): the stored audit head, valid until the commit (only the flusher writes it), and the
    // last stored audit entry, valid until this writer inserts one or a logical transaction rolls back.
    private readonly List<Prefetch> _prefetches = [];
    private AuditHeadRecord? _storedHead;
    private bool _storedHeadKnown;
    private AuditEntryRecord? _lastEntry;
    private bool _lastEntryKnown;

    // Index in _pendingStatements from which the statements are the open logical transaction's own (its SAVEPOINT
    // and what followed); -1 when no logical transaction is open.
    private int _openFrom = -1;
    private readonly System.Collections.Concurrent.ConcurrentQueue<IWriteJob> _jobs = new();
    private readonly SemaphoreSlim _jobSignal = new(0);
    private readonly Thread _jobThread;
    private bool _disposed;

    public GroupCommitWriter(StoreDialect dialect, int maxBatch = DefaultMaxBatch)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatch, 1);
        _dialect = dialect;
        _maxBatch = maxBatch;
        _flusher = new Thread(FlushLoop) { IsBackground = true, Name = "keybroker-group-commit" };
        _flusher.Start();
        _jobThread = new Thread(JobLoop) { IsBackground = true, Name = "keybroker-writer" };
        _jobThread.Start();
    }

    public IKeyBrokerTransaction Begin()
    {
        Interlocked.Increment(ref _queued);
        try
        {
            _writerLock.Wait();
        }
        finally
        {
            Interlocked.Decrement(ref _queued);
        }

        return BeginLocked(isolate: true);
    }

    /// <summary>As <see cref="Begin"/>, waiting for the writer lock without holding a thread.</summary>
    public async Task<IKeyBrokerTransaction> BeginAsync(CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _queued);
        try
        {
            await _writerLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The last writer may have left the batch open for this one (it was queued); someone must still pass the
            // lock on, or that batch would wait for a writer that never comes. A task does it so the caller need not.
            Interlocked.Decrement(ref _queued);
            _ = Task.Run(async () =>
            {
                await _writerLock.WaitAsync(CancellationToken.None).ConfigureAwait(false);
                HandOnLocked();
            }, CancellationToken.None);
            throw;
        }

        Interlocked.Decrement(ref _queued);
        return BeginLocked(isolate: true);
    }

    /// <summary>Runs <paramref name="work"/> as a logical transaction on the writer's job thread (see the file
    /// header); the task completes with its result once the batch holding it is durable.</summary>
    /// <param name="nonceHash">The nonce <paramref name="work"/> will consume, if known: looked up with the others
    /// queued (see the file header).</param>
    public Task<T> RunAsync<T>(Func<IKeyBrokerTransaction, T> work, CancellationToken cancellationToken, byte[]? nonceHash = null)
    {
        ArgumentNullException.ThrowIfNull(work);
        ObjectDisposedException.ThrowIf(_disposed, this);
        var job = new WriteJob<T>(work, cancellationToken, nonceHash);
        // Counted as a queued writer from now on, so that the batch in progress stays open for it.
        Interlocked.Increment(ref _queued);
        _jobs.Enqueue(job);
        _jobSignal.Release();
        return job.Task;
    }

    private void JobLoop()
    {
        while (true)
        {
            _jobSignal.Wait();
            if (!_jobs.TryDequeue(out IWriteJob? job))
            {
                return;
            }

            job.Run(this);
        }
    }

    /// <summary>Takes the writer lock for a job on the job thread (a blocking wait: this thread does nothing else);
    /// null when the job was cancelled meanwhile, the lock then passed on as if it had written nothing.</summary>
    private RelationalWriteTransaction? BeginForJob(CancellationToken cancellationToken, byte[]? nonceHash)
    {
        _writerLock.Wait(CancellationToken.None);
        Interlocked.Decrement(ref _queued);
        if (cancellationToken.IsCancellationRequested)
        {
            HandOnLocked();
            return null;
        }

        return BeginLocked(isolate: false, nonceHash);
    }

    private interface IWriteJob
    {
        /// <summary>The nonce the job will consume, when its caller said.</summary>
        byte[]? NonceHash { get; }

        void Run(GroupCommitWriter writer);

        void Fail(Exception error);
    }

    private sealed class WriteJob<T>(Func<IKeyBrokerTransaction, T> work, CancellationToken cancellationToken, byte[]? nonceHash) : IWriteJob
    {
        private readonly TaskCompletionSource<T> _result = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public byte[]? NonceHash => nonceHash;

        public Task<T> Task => _result.Task;

        public void Fail(Exception error) => _result.TrySetException(error);

        public void Run(GroupCommitWriter writer)
        {
            RelationalWriteTransaction? transaction;
            try
            {
                transaction = writer.BeginForJob(cancellationToken, nonceHash);
            }
            catch (Exception e)
            {
                _result.TrySetException(e);
                return;
            }

            if (transaction is null)
            {
                _result.TrySetCanceled(cancellationToken);
                return;
            }

            T value;
            Task durable;
            try
            {
                value = work(transaction);
                durable = transaction.CommitAsync();
            }
            catch (Exception e)
            {
                // Rolls back to the savepoint (nothing if the commit itself failed) and passes the writer on.
                transaction.Dispose();
                _result.TrySetException(e);
                return;
            }

            durable.ContinueWith(
                (t, state) =>
                {
                    var result = (TaskCompletionSource<T>)state!;
                    if (t.Exception is { } error)
                    {
                        result.TrySetException(error.InnerExceptions);
                    }
                    else
                    {
                        result.TrySetResult(value);
                    }
                },
                _result,
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
        }
    }

    /// <param name="isolate">Send what earlier logical transactions deferred before this one writes, so that a statement of
    /// this one that fails fails it alone (owner requests and tools; a job's statements cannot fail but with the batch).</param>
    /// <param name="nonceHash">The nonce the logical transaction will consume, if known.</param>
    private RelationalWriteTransaction BeginLocked(bool isolate, byte[]? nonceHash = null)
    {
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_transaction is null)
            {
                _connection ??= _dialect.Open();
                _transaction = _dialect.BeginWriteDeferringLock(_connection, out string? lockStatement);
                _auditTail = null;
                _keyReads.Clear();
                ForgetNonces();
                ForgetPrefetched();
                if (lockStatement is not null)
                {
                    // First in the command that carries it, so everything after runs under the lock.
                    _pendingStatements.Add(new Deferred(lockStatement, [], 0, ResultSets: 1));
                    PrefetchAtBegin(nonceHash);
                }
            }

            _headAtSavepoint = _pendingHead;
            Defer(SavepointSql);
            _openFrom = Math.Max(_pendingStatements.Count - 1, 0);
            if (isolate)
            {
                SendDeferred();
            }

            return new RelationalWriteTransaction(this);
        }
        catch (Exception e)
        {
            AbortLocked(e);
            _writerLock.Release();
            throw;
        }
    }

    /// <summary>Ends a logical transaction (called with the writer lock held) and, when committing, waits
    /// until the physical commit holding it is durable.</summary>
    internal void Complete(bool commit) => End(commit)?.WaitDurable();

    /// <summary>As <see cref="Complete"/>, waiting for durability without holding a thread.</summary>
    internal Task CompleteAsync(bool commit) => End(commit)?.WaitDurableAsync() ?? Task.CompletedTask;

    /// <summary>The audit tail of the current physical transaction (see the file header); only the holder of
    /// the writer lock reads or sets it.</summary>
    internal AuditTailRecord? AuditTail
    {
        get => _auditTail;
        set => _auditTail = value;
    }

    /// <summary>The latest record of a key (null: none), read once per physical transaction (see the file header);
    /// only the holder of the writer lock calls this.</summary>
    internal KeyVersionRecord? LatestKey(string name)
    {
        if (_keyReads.TryGetValue(name, out KeyVersionRecord? record))
        {
            return record;
        }

        record = Read(RelationalStore.LatestKeySql, [("@name", name)], reader => reader.Read() ? RelationalStore.ReadKey(reader) : null);
        if (_keyReads.Count >= MaxKeyReads)
        {
            _keyReads.Clear();
        }

        _keyReads[name] = record;
        return record;
    }

    /// <summary>Forgets what <see cref="LatestKey"/> read of a key this writer is about to change.</summary>
    internal void ForgetKey(string name) => _keyReads.Remove(name);

    /// <summary>Key records one physical transaction remembers at most.</summary>
    private const int MaxKeyReads = 1024;

    /// <summary>Ends the logical transaction and hands the writer lock on; returns the batch to wait for when
    /// it committed.</summary>
    private Batch? End(bool commit)
    {
        _openFrom = -1;
        if (_transaction is null)
        {
            // The batch failed while this logical transaction was open (a deferred write of it or of an earlier
            // one did not go through): nothing of it is stored, and the writer lock is still this transaction's.
            HandOnLocked();
            return commit
                ? throw new KeyBrokerStoreException("The store did not commit the write; nothing of it was stored.", new InvalidOperationException("the batch was rolled back"))
                : null;
        }

        Batch batch = _batch;
        try
        {
            bool wroteNothing = _pendingStatements.Count > 0 && _pendingStatements[^1].Sql == SavepointSql;
            if (wroteNothing)
            {
                _pendingStatements.RemoveAt(_pendingStatements.Count - 1);
            }

            if (commit)
            {
                if (!wroteNothing)
                {
                    Defer(ReleaseSql);
                }

                if (batch.Members++ == 0)
                {
                    batch.FirstCommitted = System.Diagnostics.Stopwatch.GetTimestamp();
                }

                _noncesConsumedByOpen.Clear();
            }
            else
            {
                _auditTail = null;
                ForgetLastAuditEntry();
                _keyReads.Clear();
                foreach (string nonce in _noncesConsumedByOpen)
                {
                    _noncesConsumed.Remove(nonce);
                }

                _noncesConsumedByOpen.Clear();
                _pendingHead = _headAtSavepoint;
                if (!wroteNothing)
                {
                    NonQuery("ROLLBACK TO SAVEPOINT w");
                    NonQuery(ReleaseSql);
                }
            }
        }
        catch (Exception e)
        {
            AbortLocked(e);
            _writerLock.Release();
            if (commit)
            {
                throw new KeyBrokerStoreException("The store did not commit the write; nothing of it was stored.", e);
            }

            return null;
        }

        HandOnLocked();
        return commit ? batch : null;
    }

    /// <summary>Passes the writer lock on: to the next queued writer while the batch may grow, otherwise to the
    /// flusher, which releases it after the physical commit.</summary>
    private void HandOnLocked()
    {
        Batch batch = _batch;
        if (_stopping || (Volatile.Read(ref _queued) > 0 && batch.Members < _maxBatch
            && (batch.Members == 0 || System.Diagnostics.Stopwatch.GetElapsedTime(batch.FirstCommitted) < MaxBatchAge)))
        {
            _writerLock.Release();
        }
        else
        {
            _flushRequest.Release();
        }
    }

    public void Dispose()
    {
        _writerLock.Wait();
        try
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            AbortLocked(new ObjectDisposedException(nameof(GroupCommitWriter)));
            _stopping = true;
            _flushRequest.Release();
        }
        finally
        {
            _writerLock.Release();
        }

        _flusher.Join();
        _jobSignal.Release();
        _jobThread.Join();
        while (_jobs.TryDequeue(out IWriteJob? job))
        {
            Interlocked.Decrement(ref _queued);
            job.Fail(new ObjectDisposedException(nameof(GroupCommitWriter)));
        }
    }

    private void FlushLoop()
    {
        while (true)
        {
            _flushRequest.Wait();
            if (_stopping)
            {
                return;
            }

            FlushLocked();
            _writerLock.Release();
        }
    }

    private void FlushLocked()
    {
        Batch batch = _batch;
        _batch = new Batch();
        DbTransaction? transaction = _transaction;
        if (transaction is null)
        {
            batch.Succeed();
            return;
        }

        try
        {
            // Deferred writes (an audit entry) go out with the head row, or on their own; a deferred RELEASE with them.
            if (batch.Members > 0)
            {
                if (_pendingHead is { } head)
                {
                    NonQuery(SetHeadSql, ("@size", head.Size), ("@hash", head.HeadHash), ("@time", RelationalStore.ToMs(head.Time)), ("@sig", head.Signature));
                }
                else
                {
                    SendDeferred();
                }

                transaction.Commit();
            }
            else
            {
                transaction.Rollback();
            }

            batch.Succeed();
        }
        catch (Exception e)
        {
            batch.Fail(e);
            ResetConnection();
        }
        finally
        {
            _pendingHead = null;
            ForgetPrefetched();
            _transaction = null;
            transaction.Dispose();
        }
    }

    private void AbortLocked(Exception cause)
    {
        Batch batch = _batch;
        _batch = new Batch();
        _auditTail = null;
        _keyReads.Clear();
        ForgetNonces();
        _pendingHead = null;
        _pendingStatements.Clear();
        ForgetPrefetched();
        DbTransaction? transaction = _transaction;
        _transaction = null;
        if (transaction is not null)
        {
            try
            {
                transaction.Rollback();
            }
            catch (Exception)
            {
                // The connection is discarded below; the database rolls back what it did not commit.
            }

            transaction.Dispose();
        }

        batch.Fail(cause);
        ResetConnection();
    }

    /// <summary>The audit head to write before the physical commit (see the file header); only the holder of
    /// the writer lock reads or sets it.</summary>
    internal AuditHeadRecord? PendingAuditHead
    {
        get => _pendingHead;
        set => _pendingHead = value;
    }

    /// <summary>Runs a statement that returns no rows, sent together with any deferred statements; returns the
    /// rows it affected (the deferred ones' known counts taken out of the command's total).</summary>
    internal int NonQuery(string sql, params (string Name, object? Value)[] parameters) => NonQuery(sql, parameters, lastIsOthers: false);

    /// <param name="lastIsOthers">The statement itself is a deferred insert of a logical transaction other than the open one.</param>
    private int NonQuery(string sql, (string Name, object? Value)[] parameters, bool lastIsOthers)
    {
        if (_pendingStatements.Count == 0 && !lastIsOthers)
        {
            return Command(sql, parameters).ExecuteNonQuery();
        }

        (DbCommand combined, int deferredRows, bool carriesOthers, _) = TakePending(sql, parameters, lastIsOthers);
        try
        {
            using (combined)
            {
                return combined.ExecuteNonQuery() - deferredRows;
            }
        }
        catch (Exception e) when (carriesOthers)
        {
            // A deferred write may belong to a logical transaction that has already ended as committed; rolling
            // back to the current savepoint would not undo it, so the whole batch fails: nobody is told it is durable.
            // (When every deferred insert it carried is the open logical transaction's own, rolling back to that
            // transaction's savepoint undoes them all: the failure is that transaction's alone.)
            AbortLocked(e);
            throw new KeyBrokerStoreException("A write of this batch failed; nothing of the batch was stored.", e);
        }
    }

    /// <summary>Runs an INSERT that affects exactly one row or fails: on a server database it is deferred and sent
    /// with the next statement (or the commit), saving its round trip. Its failure then surfaces there and, like
    /// any failure inside a batch that is not rolled back to its own savepoint, fails the whole batch.</summary>
    internal void InsertOne(string sql, params (string Name, object? Value)[] parameters)
    {
        if (!_dialect.BatchesStatements)
        {
            int rows = NonQuery(sql, parameters);
            if (rows != 1)
            {
                throw new InvalidOperationException($"An insert affected {rows} rows, not 1.");
            }

            return;
        }

        // Deferred statements share one command: each deferred insert's parameters get a suffix of their own (its
        // place in the list, unique until the list is sent).
        string suffix = "__d" + _pendingStatements.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var renamed = new (string Name, object? Value)[parameters.Length];
        for (int i = 0; i < parameters.Length; i++)
        {
            renamed[i] = (parameters[i].Name + suffix, parameters[i].Value);
        }

        _pendingStatements.Add(new Deferred(s_parameterName.Replace(sql, "$0" + suffix), renamed, 1));
    }

    private static readonly System.Text.RegularExpressions.Regex s_parameterName =
        new(@"@[A-Za-z_][A-Za-z0-9_]*", System.Text.RegularExpressions.RegexOptions.CultureInvariant | System.Text.RegularExpressions.RegexOptions.Compiled);

    /// <summary>Consumes a nonce (its expiry already checked) in the open logical transaction; see the file header.</summary>
    internal Tokens.NonceConsumption ConsumeNonce(byte[] nonceHash, long expiresMs)
    {
        string key = Convert.ToHexString(nonceHash);
        if (_noncesConsumed.Contains(key))
        {
            return Tokens.NonceConsumption.Replayed;
        }

        if (_dialect.BatchesStatements)
        {
            if (!_noncesLookedUp.Contains(key))
            {
                // Carries any prefetch still waiting (perhaps a lookup of this nonce too): one round trip either way.
                LookUpNonces(nonceHash, key);
            }

            if (_noncesStored.Contains(key))
            {
                return Tokens.NonceConsumption.Replayed;
            }

            InsertOne(InsertNonceSql, ("@nonce_hash", nonceHash), ("@nonce_expires", expiresMs));
        }
        else if (NonQuery(ConsumeNonceSql, ("@hash", nonceHash), ("@expires", expiresMs)) != 1)
        {
            return Tokens.NonceConsumption.Replayed;
        }

        _noncesConsumed.Add(key);
        _noncesConsumedByOpen.Add(key);
        return Tokens.NonceConsumption.Consumed;
    }

    /// <summary>Looks up, in one query, which of this nonce and those of the writes queued behind it are stored.</summary>
    private void LookUpNonces(byte[] nonceHash, string key)
    {
        Run(NonceLookup(nonceHash, key)!);
    }

    /// <summary>The query that looks up this nonce (when not looked up yet) and those of the writes queued behind it;
    /// null when there is none to look up. Reading its rows marks them looked up.</summary>
    private Prefetch? NonceLookup(byte[]? nonceHash, string? key)
    {
        var hashes = new List<byte[]>();
        var keys = new List<string>();
        if (nonceHash is not null && !_noncesLookedUp.Contains(key!) && !_noncesConsumed.Contains(key!))
        {
            hashes.Add(nonceHash);
            keys.Add(key!);
        }

        foreach (IWriteJob queued in _jobs)
        {
            if (hashes.Count >= MaxNonceLookup)
            {
                break;
            }

            if (queued.NonceHash is { } hash)
            {
                string queuedKey = Convert.ToHexString(hash);
                if (!_noncesLookedUp.Contains(queuedKey) && !_noncesConsumed.Contains(queuedKey) && !keys.Contains(queuedKey))
                {
                    hashes.Add(hash);
                    keys.Add(queuedKey);
                }
            }
        }

        if (hashes.Count == 0)
        {
            return null;
        }

        var parameters = new (string Name, object? Value)[hashes.Count];
        var names = new string[hashes.Count];
        for (int i = 0; i < hashes.Count; i++)
        {
            names[i] = "@n" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
            parameters[i] = (names[i], hashes[i]);
        }

        return new Prefetch($"SELECT nonce_hash FROM consumed_nonces WHERE nonce_hash IN ({string.Join(", ", names)})", parameters, reader =>
        {
            while (reader.Read())
            {
                _noncesStored.Add(Convert.ToHexString((byte[])reader.GetValue(0)));
            }

            foreach (string looked in keys)
            {
                _noncesLookedUp.Add(looked);
            }
        });
    }

    private void ForgetNonces()
    {
        _noncesLookedUp.Clear();
        _noncesStored.Clear();
        _noncesConsumed.Clear();
        _noncesConsumedByOpen.Clear();
    }

    /// <summary>Nonces one lookup asks for at most.</summary>
    private const int MaxNonceLookup = 64;

    private const string ConsumeNonceSql =
        "INSERT INTO consumed_nonces (nonce_hash, expires_at_ms) VALUES (@hash, @expires) ON CONFLICT (nonce_hash) DO NOTHING";

    private const string InsertNonceSql = "INSERT INTO consumed_nonces (nonce_hash, expires_at_ms) VALUES (@nonce_hash, @nonce_expires)";

    /// <summary>Runs a query on the writer connection in the current transaction (only the holder of the writer lock
    /// calls this) and reads its rows with <paramref name="read"/>. Deferred statements go in the same command, ahead
    /// of the query (their inserts are plain: each inserts its row or fails, failing as <see cref="NonQuery(string,
    /// (string Name, object? Value)[])"/> says); a query sent alone uses a command kept per statement.</summary>
    internal T Read<T>(string sql, (string Name, object? Value)[] parameters, Func<DbDataReader, T> read)
    {
        if (_pendingStatements.Count == 0 && _prefetches.Count == 0)
        {
            using DbDataReader reader = Command(sql, parameters).ExecuteReader();
            return read(reader);
        }

        Prefetch[] prefetches = [.. _prefetches];
        _prefetches.Clear();
        (DbCommand combined, _, bool carriesOthers, int skip) = TakePending(sql, parameters, lastIsOthers: false, prefetches);
        try
        {
            using (combined)
            using (DbDataReader reader = combined.ExecuteReader())
            {
                // Of the deferred statements only the writer lock returns rows (its own result set, skipped); the
                // query's result set follows, then one for each prefetch, in order.
                for (int i = 0; i < skip; i++)
                {
                    NextResult(reader);
                }

                T result = read(reader);
                foreach (Prefetch prefetch in prefetches)
                {
                    NextResult(reader);
                    prefetch.Read(reader);
                }

                return result;
            }
        }
        catch (Exception e) when (carriesOthers)
        {
            AbortLocked(e);
            throw new KeyBrokerStoreException("A write of this batch failed; nothing of the batch was stored.", e);
        }
    }

    /// <summary>One command of every deferred statement followed by <paramref name="sql"/>, for one use (combined
    /// texts differ from batch to batch, so they are not kept); the deferred list is emptied. Also returns the rows
    /// the deferred statements affect when they succeed, and whether any of them is an insert of a logical
    /// transaction other than the open one (then a failure of the command cannot be confined to the open one).</summary>
    private (DbCommand Command, int DeferredRows, bool CarriesOthers, int ResultSetsBefore) TakePending(
        string sql, (string Name, object? Value)[] parameters, bool lastIsOthers, Prefetch[]? prefetches = null)
    {
        int deferredRows = 0;
        int resultSets = 0;
        bool carriesOthers = lastIsOthers;
        var all = new List<(string Name, object? Value)>(parameters.Length + 8);
        var text = new System.Text.StringBuilder();
        for (int i = 0; i < _pendingStatements.Count; i++)
        {
            Deferred deferred = _pendingStatements[i];
            text.Append(deferred.Sql).Append("; ");
            all.AddRange(deferred.Parameters);
            deferredRows += deferred.Rows;
            resultSets += deferred.ResultSets;
            carriesOthers |= deferred.Rows > 0 && (_openFrom < 0 || i < _openFrom);
        }

        _pendingStatements.Clear();
        if (_openFrom > 0)
        {
            _openFrom = 0;
        }

        all.AddRange(parameters);
        text.Append(sql);
        for (int i = 0; prefetches is not null && i < prefetches.Length; i++)
        {
            // Each prefetch's parameters get a suffix of their own, as deferred inserts do.
            string suffix = "__p" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
            text.Append("; ").Append(s_parameterName.Replace(prefetches[i].Sql, "$0" + suffix));
            foreach ((string name, object? value) in prefetches[i].Parameters)
            {
                all.Add((name + suffix, value));
            }
        }

        return (StoreDialect.Command(_connection!, _transaction, text.ToString(), [.. all]), deferredRows, carriesOthers, resultSets);
    }

    private static void NextResult(DbDataReader reader)
    {
        if (!reader.NextResult())
        {
            throw new InvalidOperationException("A combined command returned fewer result sets than it has queries.");
        }
    }

    /// <summary>Queues, for the first query of a new physical transaction, the reads its writes will need: the
    /// stored audit head, the last stored audit entry, and the nonces of this write and those queued behind it.</summary>
    private void PrefetchAtBegin(byte[]? nonceHash)
    {
        _prefetches.Add(HeadRead());
        _prefetches.Add(LastEntryRead());
        if (NonceLookup(nonceHash, nonceHash is null ? null : Convert.ToHexString(nonceHash)) is { } lookup)
        {
            _prefetches.Add(lookup);
        }
    }

    private Prefetch HeadRead() => new(RelationalStore.AuditHeadSql, [], reader =>
    {
        _storedHead = reader.Read() ? RelationalStore.ReadHead(reader) : null;
        _storedHeadKnown = true;
    });

    private Prefetch LastEntryRead() => new(LastAuditEntrySql, [], reader =>
    {
        _lastEntry = reader.Read() ? RelationalStore.ReadAuditEntry(reader) : null;
        _lastEntryKnown = true;
    }, LastEntry: true);

    /// <summary>Runs a query now; any prefetches still waiting go with it (one round trip).</summary>
    private void Run(Prefetch query) => Read(query.Sql, query.Parameters, reader =>
    {
        query.Read(reader);
        return true;
    });

    private void ForgetPrefetched()
    {
        _prefetches.Clear();
        _storedHead = null;
        _storedHeadKnown = false;
        _lastEntry = null;
        _lastEntryKnown = false;
    }

    /// <summary>The audit head as stored (the flusher writes it just before the commit); only the holder of the
    /// writer lock calls this.</summary>
    internal AuditHeadRecord? StoredAuditHead()
    {
        if (!_storedHeadKnown)
        {
            Run(HeadRead());
        }

        return _storedHead;
    }

    /// <summary>The last audit entry stored (or deferred) in this transaction; only the holder of the writer lock calls this.</summary>
    internal AuditEntryRecord? LastAuditEntry()
    {
        if (!_lastEntryKnown)
        {
            Run(LastEntryRead());
        }

        return _lastEntry;
    }

    /// <summary>Called before this writer inserts an audit entry and when a logical transaction rolls back: what
    /// was read of the last one may then be stale.</summary>
    internal void ForgetLastAuditEntry()
    {
        _lastEntry = null;
        _lastEntryKnown = false;
        _prefetches.RemoveAll(p => p.LastEntry);
    }

    private const string LastAuditEntrySql = $"SELECT {RelationalStore.AuditColumns} FROM audit_entries ORDER BY seq DESC LIMIT 1";

    /// <summary>A query sent with another (see <see cref="PrefetchAtBegin"/>) and how to take in its rows.</summary>
    private sealed record Prefetch(string Sql, (string Name, object? Value)[] Parameters, Action<DbDataReader> Read, bool LastEntry = false);

    private void Defer(string sql)
    {
        _pendingStatements.Add(new Deferred(sql, [], 0));
        if (!_dialect.BatchesStatements)
        {
            SendDeferred();
        }
    }

    private void SendDeferred()
    {
        if (_pendingStatements.Count > 0)
        {
            int index = _pendingStatements.Count - 1;
            Deferred last = _pendingStatements[index];
            _pendingStatements.RemoveAt(index);
            // Only an insert's count means something (SQLite reports a stale count for SAVEPOINT and RELEASE).
            int rows = NonQuery(last.Sql, last.Parameters, lastIsOthers: last.Rows > 0 && (_openFrom < 0 || index < _openFrom));
            if (last.Rows > 0 && rows != last.Rows)
            {
                throw new InvalidOperationException($"A deferred statement affected {rows} rows, not {last.Rows}.");
            }
        }
    }

    /// <summary>A statement waiting for the next one, with its parameters and the rows it affects when it succeeds.</summary>
    private sealed record Deferred(string Sql, (string Name, object? Value)[] Parameters, int Rows, int ResultSets = 0);

    private const string SavepointSql = "SAVEPOINT w";
    private const string ReleaseSql = "RELEASE SAVEPOINT w";

    private const string SetHeadSql = """
        INSERT INTO audit_head (id, size, head_hash, time_ms, signature) VALUES (1, @size, @hash, @time, @sig)
        ON CONFLICT (id) DO UPDATE SET size = excluded.size, head_hash = excluded.head_hash,
            time_ms = excluded.time_ms, signature = excluded.signature
        """;

    private DbCommand Command(string sql, params (string Name, object? Value)[] parameters)
    {
        if (!_commands.TryGetValue(sql, out DbCommand? command))
        {
            command = StoreDialect.Command(_connection!, _transaction, sql, parameters);
            _commands.Add(sql, command);
            return command;
        }

        command.Transaction = _transaction;
        for (int i = 0; i < parameters.Length; i++)
        {
            command.Parameters[parameters[i].Name].Value = parameters[i].Value ?? DBNull.Value;
        }

        return command;
    }

    /// <summary>Whether a purge of expired rows at <paramref name="nowMs"/> is due: at most one a second,
    /// since purging only reclaims space.</summary>
    internal bool PurgeDue(long nowMs)
    {
        if (_lastPurgeMs != long.MinValue && nowMs >= _lastPurgeMs && nowMs - _lastPurgeMs < 1000)
        {
            return false;
        }

        _lastPurgeMs = nowMs;
        return true;
    }

    /// <summary>The latest expiry up to which this writer has deleted consumed nonces; a nonce expiring at or
    /// before it can no longer be checked for reuse. Raised before the delete runs and never lowered.</summary>
    internal long PurgedNoncesUpToMs
    {
        get => _purgedUpToMs;
        set => _purgedUpToMs = Math.Max(_purgedUpToMs, value);
    }

    private void ResetConnection()
    {
        foreach (DbCommand command in _commands.Values)
        {
            command.Dispose();
        }

        _commands.Clear();
        _connection?.Dispose();
        _connection = null;
    }

    private sealed class Batch
    {
        // Continuations run on the thread pool, never on the flusher thread that completes the batch.
        private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private Exception? _error;

        public int Members { get; set; }

        /// <summary>When the batch's first logical transaction committed (Stopwatch timestamp): the batch takes more
        /// writers for <see cref="MaxBatchAge"/> from then, however long the physical transaction took to begin.</summary>
        public long FirstCommitted { get; set; }

        public void Succeed() => _done.TrySetResult();

        public void Fail(Exception error)
        {
            _error = error;
            _done.TrySetResult();
        }

        public void WaitDurable()
        {
            _done.Task.GetAwaiter().GetResult();
            ThrowIfFailed();
        }

        public async Task WaitDurableAsync()
        {
            await _done.Task.ConfigureAwait(false);
            ThrowIfFailed();
        }

        private void ThrowIfFailed()
        {
            if (_error is not null)
            {
                throw new KeyBrokerStoreException("The store did not commit the write; nothing of it was stored.", _error);
            }
        }
    }
}
