// Group commit for the relational stores.
//
// One writer connection per store instance. A logical write transaction (what BeginWrite returns) holds
// the in-process writer lock and runs inside a SAVEPOINT of the current physical transaction, which
// holds the database's writer lock (SQLite BEGIN IMMEDIATE, a PostgreSQL transaction-level advisory
// lock). When a logical transaction commits, its savepoint is released; if other writers are queued,
// the lock is handed to the next one and the physical transaction stays open; the last writer of the
// queue (or the one that fills the batch) commits the physical transaction. Commit() returns only when
// the physical commit that holds it is durable, and throws if that commit failed, so a caller never acts
// on a write that is not on disk. A logical transaction disposed without commit rolls back to its
// savepoint and leaves the others of the batch untouched. Any failure of the physical transaction fails
// every logical transaction of the batch: all or nothing, as if each had failed its own commit.
using System.Data.Common;

namespace Enclave.KeyBroker.Storage;

internal sealed class GroupCommitWriter : IDisposable
{
    /// <summary>Logical transactions committed together at most.</summary>
    public const int DefaultMaxBatch = 64;

    private readonly StoreDialect _dialect;
    private readonly int _maxBatch;
    private readonly SemaphoreSlim _writerLock = new(1, 1);
    private int _queued;
    private DbConnection? _connection;
    private DbTransaction? _transaction;
    private Batch _batch = new();
    private long _savepoints;
    private bool _disposed;

    public GroupCommitWriter(StoreDialect dialect, int maxBatch = DefaultMaxBatch)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatch, 1);
        _dialect = dialect;
        _maxBatch = maxBatch;
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

        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_transaction is null)
            {
                _connection ??= _dialect.Open();
                _transaction = _dialect.BeginWrite(_connection);
            }

            string savepoint = "w" + (++_savepoints).ToString(System.Globalization.CultureInfo.InvariantCulture);
            StoreDialect.Execute(_connection!, _transaction, "SAVEPOINT " + savepoint);
            return new RelationalWriteTransaction(this, _connection!, _transaction, savepoint);
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
    internal void Complete(string savepoint, bool commit)
    {
        Batch batch = _batch;
        try
        {
            if (commit)
            {
                StoreDialect.Execute(_connection!, _transaction, "RELEASE SAVEPOINT " + savepoint);
                batch.Members++;
            }
            else
            {
                StoreDialect.Execute(_connection!, _transaction, "ROLLBACK TO SAVEPOINT " + savepoint);
                StoreDialect.Execute(_connection!, _transaction, "RELEASE SAVEPOINT " + savepoint);
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

            return;
        }

        if (Volatile.Read(ref _queued) > 0 && batch.Members < _maxBatch)
        {
            _writerLock.Release();
        }
        else
        {
            FlushLocked();
            _writerLock.Release();
        }

        if (commit)
        {
            batch.WaitDurable();
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
        }
        finally
        {
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

        batch.Fail(cause);
        ResetConnection();
    }

    private void ResetConnection()
    {
        _connection?.Dispose();
        _connection = null;
    }

    private sealed class Batch
    {
        private readonly ManualResetEventSlim _done = new(false);
        private Exception? _error;

        public int Members { get; set; }

        public void Succeed() => _done.Set();

        public void Fail(Exception error)
        {
            _error = error;
            _done.Set();
        }

        public void WaitDurable()
        {
            _done.Wait();
            if (_error is not null)
            {
                throw new KeyBrokerStoreException("The store did not commit the write; nothing of it was stored.", _error);
            }
        }
    }
}
