namespace Enclave.KeyBroker.Audit;

/// <summary>An entry of the audit log. <see cref="Id"/> (the lower-case hex Merkle leaf hash) is the
/// receipt id handed out for grants; through <see cref="PreviousId"/> it also commits to every entry
/// before it. Leaf index = <see cref="Sequence"/> - 1.</summary>
public sealed record AuditEntry(long Sequence, DateTimeOffset Time, string Kind, string Body, string Id, string PreviousId);
