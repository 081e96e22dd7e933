namespace Enclave.KeyBroker.Audit;

/// <summary>Kinds of audit entries; the member names are the stored <c>kind</c> strings.</summary>
public enum AuditEntryKind
{
    /// <summary>An owner registered a key (or a new version by registering again).</summary>
    KeyRegistered,

    /// <summary>The owner replaced the release policy of the latest version.</summary>
    PolicyUpdated,

    /// <summary>The owner disabled or re-enabled the latest version.</summary>
    KeyStateChanged,

    /// <summary>A grant: reason, token id, key version, encryption key thumbprint; for a budgeted key, the privacy spend.</summary>
    ReleaseGranted,

    /// <summary>A denial: reason code, token id (verified or not), detail.</summary>
    ReleaseDenied,

    /// <summary>A coordinator's signed round manifest.</summary>
    RoundManifest,

    /// <summary>The owner rotated the key: a new version with a new data key.</summary>
    KeyVersionAdded,

    /// <summary>The owner deleted the key; no version is released again.</summary>
    KeyDeleted,

    /// <summary>A node enrolment signed by the security team, relayed by the attestation verifier.</summary>
    NodeEnrolled,

    /// <summary>Releases from one caller whose tokens did not validate, refused in one interval beyond the
    /// allowance: caller address, interval, count per reason code. No token text.</summary>
    ReleasesThrottled,
}
