using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Enclave.KeyBroker.Audit;
using Enclave.KeyBroker.Tests.Support;

namespace Enclave.KeyBroker.Tests;

/// <summary>The denials an operator must tell apart — cross-region, wrong measurement, debug enclave, stale
/// TCB, expired token, foreign issuer, replayed nonce — against one broker: each is denied, each is in the
/// audit log with its own reason code and the token id, and no two share a code.</summary>
public sealed class DistinctDenialTests
{
    [Fact]
    public async Task Each_denial_has_its_own_audited_reason()
    {
        using var h = new BrokerHarness();
        h.RegisterDefaultKey();
        string replayed = h.Token();
        Assert.True((await h.ReleaseAsync(replayed)).IsGranted);

        var cases = new List<(string Case, ReasonCode Expected, Func<Task<ReleaseOutcome>> Run)>
        {
            ("cross-region", ReasonCode.RegionNotAllowed, () => h.ReleaseAsync(h.Token(c => c["x-enclave-region"] = "us-east"))),
            ("wrong measurement", ReasonCode.MeasurementNotAllowed, () => h.ReleaseAsync(h.Token(c => c["x-ms-sgx-mrenclave"] = new string('e', 64)))),
            ("debug enclave", ReasonCode.DebugNotAllowed, () => h.ReleaseAsync(h.Token(c => c["x-ms-sgx-is-debuggable"] = true))),
            ("stale TCB", ReasonCode.TcbNotAllowed, () => h.ReleaseAsync(h.Token(c => c["x-enclave-tcb-status"] = "OutOfDate"))),
            ("expired token", ReasonCode.TokenExpired, () =>
            {
                JsonObject claims = h.Claims(h.Broker.IssueNonce().Value);
                long now = h.Time.GetUtcNow().ToUnixTimeSeconds();
                claims["iat"] = now - 900;
                claims["nbf"] = now - 900;
                claims["exp"] = now - 120;
                return h.ReleaseAsync(h.IssueToken(claims));
            }),
            ("foreign issuer", ReasonCode.WrongIssuer, () =>
            {
                using var foreign = ECDsa.Create(ECCurve.NamedCurves.nistP256);
                JsonObject claims = h.Claims(h.Broker.IssueNonce().Value);
                claims["iss"] = "https://attacker-verifier.test";
                return h.ReleaseAsync(h.IssueToken(claims, foreign));
            }),
            ("replayed nonce", ReasonCode.NonceReplayed, () => h.ReleaseAsync(replayed)),
        };

        var seen = new Dictionary<ReasonCode, string>();
        foreach ((string name, ReasonCode expected, Func<Task<ReleaseOutcome>> run) in cases)
        {
            ReleaseOutcome outcome = await run();

            Assert.False(outcome.IsGranted, name);
            Assert.Null(outcome.WrappedKey);
            Assert.Equal(expected, outcome.Reason);
            Assert.True(seen.TryAdd(expected, name), $"{name} shares its code with {(seen.TryGetValue(expected, out string? other) ? other : "?")}");
            AuditEntry entry = h.Broker.Audit.GetEntry(outcome.AuditSequence!.Value)!;
            Assert.Equal(nameof(AuditEntryKind.ReleaseDenied), entry.Kind);
            JsonObject body = JsonNode.Parse(entry.Body)!.AsObject();
            Assert.Equal(expected.ToString(), body["reason"]!.GetValue<string>());
            Assert.False(string.IsNullOrEmpty((body["jti"] ?? body["unverifiedJti"])?.GetValue<string>()), $"{name}: no token id audited");
            Assert.Equal(outcome.ReceiptId, entry.Id);
        }

        Assert.Equal(cases.Count, seen.Count);
        Assert.Equal(cases.Count, h.Broker.Audit.ReadEntries().Count(e => e.Kind == nameof(AuditEntryKind.ReleaseDenied)));
        Assert.True(h.Broker.VerifyAudit().IsValid);
    }
}
