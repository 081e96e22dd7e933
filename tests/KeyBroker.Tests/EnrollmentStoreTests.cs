using Enclave.KeyBroker.Audit;
using Enclave.KeyBroker.Storage;
using Enclave.KeyBroker.Tests.Support;
using Enclave.Testing;

namespace Enclave.KeyBroker.Tests;

/// <summary>The store's record of node enrolments (IKeyBrokerTransaction.TryRecordEnrollment): each jti once, a
/// platform's seq only rising, durable across store instances, gone with a rolled-back transaction.</summary>
public abstract class EnrollmentStoreTests : IDisposable
{
    private const string PlatformA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    private const string PlatformB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    private readonly StoreTarget _target;
    private readonly IKeyBrokerStore _store;

    protected EnrollmentStoreTests(KeyBrokerStoreKind kind)
    {
        _target = StoreTarget.Create(kind);
        _store = _target.Open();
        _store.Initialize();
    }

    [EnvironmentFact]
    public void A_repeated_id_or_a_sequence_not_above_the_platforms_is_refused()
    {
        Assert.Equal(EnrollmentRecording.Recorded, Record("id-1-abcdefghijkl", PlatformA, 5));
        Assert.Equal(EnrollmentRecording.Replayed, Record("id-1-abcdefghijkl", PlatformA, 6));
        Assert.Equal(EnrollmentRecording.Replayed, Record("id-1-abcdefghijkl", PlatformB, 1));
        Assert.Equal(EnrollmentRecording.Superseded, Record("id-2-abcdefghijkl", PlatformA, 5));
        Assert.Equal(EnrollmentRecording.Superseded, Record("id-3-abcdefghijkl", PlatformA, 4));
        Assert.Equal(EnrollmentRecording.Recorded, Record("id-4-abcdefghijkl", PlatformB, 1));
        Assert.Equal(EnrollmentRecording.Recorded, Record("id-5-abcdefghijkl", PlatformA, 6));
    }

    [EnvironmentFact]
    public async Task Records_survive_a_new_store_instance_and_a_rolled_back_record_is_gone()
    {
        Assert.Equal(EnrollmentRecording.Recorded, await _store.WriteAsync(t => t.TryRecordEnrollment("kept-abcdefghijklm", PlatformA, 2)));
        using (IKeyBrokerTransaction rolledBack = _store.BeginWrite())
        {
            Assert.Equal(EnrollmentRecording.Recorded, rolledBack.TryRecordEnrollment("gone-abcdefghijklm", PlatformA, 3));
        }

        using IKeyBrokerStore reopened = _target.Open();
        reopened.Initialize();
        using IKeyBrokerTransaction check = reopened.BeginWrite();
        Assert.Equal(EnrollmentRecording.Replayed, check.TryRecordEnrollment("kept-abcdefghijklm", PlatformB, 9));
        Assert.Equal(EnrollmentRecording.Superseded, check.TryRecordEnrollment("other-abcdefghijk", PlatformA, 2));
        Assert.Equal(EnrollmentRecording.Recorded, check.TryRecordEnrollment("gone-abcdefghijklm", PlatformA, 3));
        check.Commit();
    }

    public void Dispose()
    {
        _store.Dispose();
        _target.Dispose();
        GC.SuppressFinalize(this);
    }

    private EnrollmentRecording Record(string id, string platformId, long sequence)
    {
        using IKeyBrokerTransaction transaction = _store.BeginWrite();
        EnrollmentRecording recording = transaction.TryRecordEnrollment(id, platformId, sequence);
        transaction.Commit();
        return recording;
    }
}

public sealed class SqliteEnrollmentStoreTests() : EnrollmentStoreTests(KeyBrokerStoreKind.Sqlite);

[RequiresEnvironment(StoreTarget.PostgresVariable)]
[Collection(StoreTarget.PostgresCollection)]
public sealed class PostgresEnrollmentStoreTests() : EnrollmentStoreTests(KeyBrokerStoreKind.Postgres);
