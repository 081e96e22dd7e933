// Group commit for the relational stores' WriteAsync (every release goes through it). One thread takes the writes
// queued, waits for the store's writer lock, and runs everything queued by then (up to MaxBatch) in one physical
// transaction, each write in a savepoint of its own, then one COMMIT: a write whose work throws is rolled back to its
// savepoint and fails alone; a failed commit fails every write of the batch with KeyBrokerStoreException, and none is
// stored. A write's task completes only after the COMMIT that holds it returned. No timer: the batch is whatever
// queued while the previous one was committing, so under load one fsync (SQLite WAL, synchronous=FULL) or synchronous
// PostgreSQL commit is shared by the releases that arrived during the last one.
using System.Collections.Concurrent;

namespace Enclave.KeyBroker.Storage;

internal sealed class GroupCommit : IDisposable
{
    /// <summary>Writes committed together at most.</summary>
    public const int MaxBatch = 64;

    private readonly RelationalStore _store;
    private readonly BlockingCollection<Job> _queue = new();
    private readonly Thread _thread;

    public GroupCommit(RelationalStore store)
    {
        _store = store;
        _thread = new Thread(Run) { IsBackground = true, Name = "keybroker-group-commit" };
        _thread.Start();
    }

    public async Task<T> Enqueue<T>(Func<IKeyBrokerTransaction, T> work, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(work);
        var job = new Job(transaction => work(transaction), cancellationToken);
        if (!_queue.TryAdd(job))
        {
            throw new ObjectDisposedException(nameof(RelationalStore));
        }

        return (T)(await job.Done.Task.ConfigureAwait(false))!;
    }

    public void Dispose()
    {
        _queue.CompleteAdding();
        _thread.Join();
        _queue.Dispose();
    }

    private void Run()
    {
        var batch = new List<Job>(MaxBatch);
        foreach (Job first in _queue.GetConsumingEnumerable())
        {
            _store.WriterLock.Wait();
            try
            {
                batch.Add(first);
                while (batch.Count < MaxBatch && _queue.TryTake(out Job? next))
                {
                    batch.Add(next);
                }

                Commit(batch);
            }
            finally
            {
                batch.Clear();
                _store.WriterLock.Release();
            }
        }
    }

    private void Commit(List<Job> batch)
    {
        var written = new List<Job>(batch.Count);
        try
        {
            using RelationalWriteTransaction transaction = _store.Begin(releasesWriterLock: false);
            foreach (Job job in batch)
            {
                if (job.CancellationToken.IsCancellationRequested)
                {
                    job.Cancel();
                    continue;
                }

                transaction.Savepoint();
                Exception? failure = job.Work(transaction);
                if (failure is null)
                {
                    transaction.ReleaseSavepoint();
                    written.Add(job);
                }
                else
                {
                    transaction.RollbackToSavepoint();
                    job.Fail(failure);
                }
            }

            transaction.Commit();
        }
        catch (Exception e)
        {
            var failure = e as KeyBrokerStoreException ?? new KeyBrokerStoreException("The write could not be committed; none of it is stored.", e);
            foreach (Job job in batch)
            {
                job.Fail(failure);
            }

            return;
        }

        foreach (Job job in written)
        {
            job.Succeed();
        }
    }

    private sealed class Job(Func<IKeyBrokerTransaction, object?> work, CancellationToken cancellationToken)
    {
        private object? _result;

        public TaskCompletionSource<object?> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public CancellationToken CancellationToken => cancellationToken;

        /// <summary>Runs the work; its exception, or null.</summary>
        public Exception? Work(IKeyBrokerTransaction transaction)
        {
            try
            {
                _result = work(transaction);
                return null;
            }
            catch (Exception e)
            {
                return e;
            }
        }

        public void Succeed() => Done.TrySetResult(_result);

        public void Fail(Exception error) => Done.TrySetException(error);

        public void Cancel() => Done.TrySetCanceled(cancellationToken);
    }
}
