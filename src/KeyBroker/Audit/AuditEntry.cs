namespace Enclave.KeyBroker.Audit;

/// <summary>An entry of the audit log. <see cref="Id"/> (the lower-case hex entry hash) is the receipt id
/// handed out for grants; it names the entry and commits to everything before it.</summary>
public sealed record AuditEntry(long Sequence, DateTimeOffset Time, string Kind, string Body, string Id);
