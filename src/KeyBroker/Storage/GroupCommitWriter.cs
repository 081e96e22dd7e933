// Group commit for the relational stores.
//
// One writer connection per store instance. A logical write transaction (what BeginWrite returns) holds
// the in-process writer lock and runs inside a SAVEPOINT of the current physical transaction, which
// holds the database's writer lock (SQLite BEGIN IMMEDIATE, a PostgreSQL transaction-level advisory
// lock). When a logical transaction commits, its savepoint is released; if other writers are queued,
// the lock is handed to the next one and the physical transaction stays open; after the last writer of
// the queue (or the one that fills the batch) the lock passes to the flusher thread, which commits the
// physical transaction and then releases the lock. Commit() returns only when the physical commit that
// holds it is durable, and throws if that commit failed, so a caller never acts on a write that is not on
// disk. A logical transaction disposed without commit rolls back to its savepoint and leaves the others
// of the batch untouched. Any failure of the physical transaction fails every logical transaction of the
// batch: all or nothing, as if each had failed its own commit.
//
// Every wait has an asynchronous form (BeginAsync, CompleteAsync), which the release path uses: a request
// waiting for the writer lock or for its batch to become durable holds no thread, so a burst of concurrent
// releases cannot starve the thread pool (a starved pool delays reading request bodies until Kestrel's minimum
// data rate aborts the connection, which was seen with 16 concurrent releases on PostgreSQL).
//
// One exception to waiting: a transaction that only issued, consumed or purged nonces returns from
// Commit() once its savepoint is released. Losing such a write in a crash is harmless (an issued nonce
// that is lost makes its release fail; freshness state is not evidence), and it cannot be lost while
// anything written after it survives: commits are durable in order, so the grant that follows a nonce
// consumption is durable only if the consumption is. Should a physical commit holding such a write fail,
// the writer refuses every later write (fail closed) rather than let a grant outlive a lost consumption.
using System.Data.Common;

namespace Enclave.KeyBroker.Storage;

internal sealed class GroupCommitWriter : IDisposable
{
    /// <summary>Logical transactions committed together at most.</summary>
    public const int DefaultMaxBatch = 64;

    private readonly StoreDialect _dialect;
    private readonly int _maxBatch;
    private readonly SemaphoreSlim _writerLock = new(1, 1);
    private readonly SemaphoreSlim _flushRequest = new(0, 1);
    private readonly Thread _flusher;
    private int _queued;
    private Exception? _poisoned;
    private volatile bool _stopping;
    private DbConnection? _connection;
    private DbTransaction? _transaction;
    private Batch _batch = new();
    private readonly Dictionary<string, DbCommand> _commands = new(StringComparer.Ordinal);
    private long _lastPurgeMs = long.MinValue;
    private bool _disposed;

    public GroupCommitWriter(StoreDialect dialect, int maxBatch = DefaultMaxBatch)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatch, 1);
        _dialect = dialect;
        _maxBatch = maxBatch;
        _flusher = new Thread(FlushLoop) { IsBackground = true, Name = "keybroker-group-commit" };
        _flusher.Start();
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

        return BeginLocked();
    }

    /// <summary>As <see cref="Begin"/>, waiting for the writer lock without holding a thread.</summary>
    public async Task<IKeyBrokerTransaction> BeginAsync(CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _queued);
        try
        {
            await _writerLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _queued);
        }

        return BeginLocked();
    }

    private RelationalWriteTransaction BeginLocked()
    {
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_poisoned is not null)
            {
                throw new KeyBrokerStoreException(
                    "An earlier write could not be made durable; the store refuses writes until it is reopened.", _poisoned);
            }

            if (_transaction is null)
            {
                _connection ??= _dialect.Open();
                _transaction = _dialect.BeginWrite(_connection);
            }

            Command("SAVEPOINT w").ExecuteNonQuery();
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
    /// <param name="mustBeDurable">False for a committed transaction that touched only nonces: it returns
    /// without waiting for the physical commit (see the file header).</param>
    internal void Complete(bool commit, bool mustBeDurable) => End(commit, mustBeDurable)?.WaitDurable();

    /// <summary>As <see cref="Complete"/>, waiting for durability without holding a thread.</summary>
    internal Task CompleteAsync(bool commit, bool mustBeDurable) => End(commit, mustBeDurable)?.WaitDurableAsync() ?? Task.CompletedTask;

    /// <summary>Ends the logical transaction and hands the writer lock on; returns the batch to wait for when
    /// the caller must see it durable.</summary>
    private Batch? End(bool commit, bool mustBeDurable)
    {
        Batch batch = _batch;
        try
        {
            if (commit)
            {
                Command("RELEASE SAVEPOINT w").ExecuteNonQuery();
                batch.Members++;
                batch.HasUnconfirmed |= !mustBeDurable;
            }
            else
            {
                Command("ROLLBACK TO SAVEPOINT w").ExecuteNonQuery();
                Command("RELEASE SAVEPOINT w").ExecuteNonQuery();
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

        if (Volatile.Read(ref _queued) > 0 && batch.Members < _maxBatch)
        {
            _writerLock.Release();
        }
        else
        {
            // The writer lock passes to the flusher, which releases it after the physical commit.
            _flushRequest.Release();
        }

        return commit && mustBeDurable ? batch : null;
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
        _transaction = null;
        if (transaction is null)
        {
            batch.Succeed();
            return;
        }

        try
        {
            if (batch.Members > 0)
            {
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
            if (batch.HasUnconfirmed)
            {
                _poisoned = e;
            }

            batch.Fail(e);
            ResetConnection();
        }
        finally
        {
            transaction.Dispose();
        }
    }

    private void AbortLocked(Exception cause)
    {
        Batch batch = _batch;
        _batch = new Batch();
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

        if (batch.HasUnconfirmed && cause is not ObjectDisposedException)
        {
            _poisoned = cause;
        }

        batch.Fail(cause);
        ResetConnection();
    }

    /// <summary>A command on the writer connection in the current transaction (only the holder of the
    /// writer lock calls this). Commands are kept per connection, so each statement is prepared once.</summary>
    internal DbCommand Command(string sql, params (string Name, object? Value)[] parameters)
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
    /// since expired nonces are refused by their expiry anyway and purging only reclaims space.</summary>
    internal bool PurgeDue(long nowMs)
    {
        if (_lastPurgeMs != long.MinValue && nowMs >= _lastPurgeMs && nowMs - _lastPurgeMs < 1000)
        {
            return false;
        }

        _lastPurgeMs = nowMs;
        return true;
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

        /// <summary>Some member returned from Commit without waiting for durability.</summary>
        public bool HasUnconfirmed { get; set; }

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
