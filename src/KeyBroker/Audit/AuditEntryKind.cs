namespace Enclave.KeyBroker.Audit;

/// <summary>Kinds of audit entries; the member names are the stored <c>kind</c> strings.</summary>
public enum AuditEntryKind
{
    KeyRegistered,
    PolicyUpdated,
    KeyStateChanged,
    ReleaseGranted,
    ReleaseDenied,

    /// <summary>A coordinator's signed round manifest.</summary>
    RoundManifest,
}
