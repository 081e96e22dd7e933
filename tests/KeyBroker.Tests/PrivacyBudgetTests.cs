using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Enclave.Crypto;
using Enclave.KeyBroker.Audit;
using Enclave.KeyBroker.Storage;
using Enclave.KeyBroker.Tests.Support;
using Enclave.Privacy;
using Enclave.Testing;

namespace Enclave.KeyBroker.Tests;

/// <summary>The broker enforces a budgeted key's privacy budget (issue 19 item 6), against every store: a DP round's
/// release spends its RDP in the grant's transaction, one that would overspend is denied and audited with nothing
/// spent, one without DP is denied, and the budget survives a restart and equals what the audit log implies.</summary>
public abstract class PrivacyBudgetTests : IDisposable
{
    // One round: 1000 steps at q = 0.01, σ = 1.0. The budgets below let exactly one or two rounds through.
    private const double Q = 0.01;
    private const double Sigma = 1.0;
    private const long Steps = 1000;
    private const double Delta = 1e-5;

    private readonly StoreTarget _target;

    protected PrivacyBudgetTests(KeyBrokerStoreKind kind)
    {
        _target = StoreTarget.Create(kind);
    }

    public void Dispose()
    {
        _target.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>A maximum ε between that of <paramref name="rounds"/> rounds and that of one more.</summary>
    private static double RoomFor(int rounds) =>
        (RdpAccountant.Epsilon(Q, Sigma, rounds * Steps, Delta).Epsilon + RdpAccountant.Epsilon(Q, Sigma, (rounds + 1) * Steps, Delta).Epsilon) / 2;

    private static double[] RoundsRdp(int rounds)
    {
        var rdp = new double[RdpAccountant.Orders.Length];
        for (int i = 0; i < rounds; i++)
        {
            RdpAccountant.AddRdp(Q, Sigma, Steps, rdp);
        }

        return rdp;
    }

    [EnvironmentFact]
    public async Task A_grant_spends_the_round_and_its_audit_entry_says_so()
    {
        using BrokerHarness harness = Budgeted(RoomFor(2));

        ReleaseOutcome outcome = await harness.ReleaseAsync(harness.Token(BrokerHarness.Spending(Q, Sigma, Steps)));

        Assert.True(outcome.IsGranted, outcome.Detail);
        Assert.Equal(RoundsRdp(1), harness.Broker.GetPrivacySpent(harness.DefaultKeyId));
        JsonObject privacy = Body(harness, outcome)["privacy"]!.AsObject();
        Assert.Equal(Q, privacy["spend"]!["samplingRate"]!.GetValue<double>());
        Assert.Equal(Sigma, privacy["spend"]!["noiseMultiplier"]!.GetValue<double>());
        Assert.Equal(Steps, privacy["spend"]!["steps"]!.GetValue<long>());
        Assert.Equal(Delta, privacy["delta"]!.GetValue<double>());
        Assert.Equal(RoomFor(2), privacy["maxEpsilon"]!.GetValue<double>());
        Assert.Equal(0, privacy["epsilonBefore"]!.GetValue<double>());
        Assert.Equal(RdpAccountant.Epsilon(Q, Sigma, Steps, Delta).Epsilon, privacy["epsilonAfter"]!.GetValue<double>(), 12);
        Assert.True(harness.Broker.VerifyAudit().IsValid);
    }

    [EnvironmentFact]
    public async Task A_release_that_would_overspend_is_denied_audited_and_spends_nothing()
    {
        using BrokerHarness harness = Budgeted(RoomFor(2));
        Assert.True((await harness.ReleaseAsync(harness.Token(BrokerHarness.Spending(Q, Sigma, Steps)))).IsGranted);
        Assert.True((await harness.ReleaseAsync(harness.Token(BrokerHarness.Spending(Q, Sigma, Steps)))).IsGranted);
        double[] before = harness.Broker.GetPrivacySpent(harness.DefaultKeyId)!;

        ReleaseOutcome third = await harness.ReleaseAsync(harness.Token(BrokerHarness.Spending(Q, Sigma, Steps)));

        Assert.False(third.IsGranted);
        Assert.Null(third.WrappedKey);
        Assert.Equal(ReasonCode.PrivacyBudgetExhausted, third.Reason);
        Assert.Equal(ReleaseOutcome.CoarseDenial, third.WireReason);
        Assert.Equal(before, harness.Broker.GetPrivacySpent(harness.DefaultKeyId));
        Assert.Equal(RoundsRdp(2), before);
        AuditEntry entry = harness.Broker.Audit.GetEntry(third.AuditSequence!.Value)!;
        Assert.Equal(nameof(AuditEntryKind.ReleaseDenied), entry.Kind);
        JsonObject body = JsonNode.Parse(entry.Body)!.AsObject();
        Assert.Equal(nameof(ReasonCode.PrivacyBudgetExhausted), body["reason"]!.GetValue<string>());
        Assert.True(body["privacy"]!["epsilonAfter"]!.GetValue<double>() > RoomFor(2));

        // A smaller round still fits in what is left, and only its spend is added.
        ReleaseOutcome small = await harness.ReleaseAsync(harness.Token(BrokerHarness.Spending(Q, Sigma, 10)));
        Assert.True(small.IsGranted, small.Detail);
        double[] expected = RoundsRdp(2);
        RdpAccountant.AddRdp(Q, Sigma, 10, expected);
        Assert.Equal(expected, harness.Broker.GetPrivacySpent(harness.DefaultKeyId));
        Assert.True(harness.Broker.VerifyAudit().IsValid);
    }

    [EnvironmentFact]
    public async Task A_key_without_a_budget_spends_nothing_whatever_the_token_says()
    {
        using BrokerHarness harness = new(store: _target.Open());
        harness.RegisterDefaultKey();

        ReleaseOutcome dp = await harness.ReleaseAsync(harness.Token(BrokerHarness.Spending(Q, Sigma, Steps)));
        ReleaseOutcome plain = await harness.ReleaseAsync(harness.Token(c => c["x-ms-runtime"]!["privacy"] = "malformed"));

        Assert.True(dp.IsGranted, dp.Detail);
        Assert.True(plain.IsGranted, plain.Detail);
        Assert.Null(Body(harness, dp)["privacy"]);
        Assert.Null(harness.Broker.GetPrivacySpent(harness.DefaultKeyId));
    }

    [EnvironmentFact]
    public async Task A_replayed_token_spends_nothing()
    {
        using BrokerHarness harness = Budgeted(RoomFor(2));
        string token = harness.Token(BrokerHarness.Spending(Q, Sigma, Steps));

        Assert.True((await harness.ReleaseAsync(token)).IsGranted);
        Assert.Equal(ReasonCode.NonceReplayed, (await harness.ReleaseAsync(token)).Reason);

        Assert.Equal(RoundsRdp(1), harness.Broker.GetPrivacySpent(harness.DefaultKeyId));
    }

    [EnvironmentFact]
    public async Task The_budget_survives_a_restart()
    {
        using BrokerHarness harness = Budgeted(RoomFor(2));
        Assert.True((await harness.ReleaseAsync(harness.Token(BrokerHarness.Spending(Q, Sigma, Steps)))).IsGranted);
        harness.Broker.Dispose();

        using IKeyBrokerStore reopened = _target.Open();
        using KeyBrokerService restarted = new(
            new KeyBrokerOptions { DataDirectory = harness.Directory.Path, TrustedIssuers = [BrokerHarness.Issuer], SimulatedMode = true, Time = harness.Time },
            harness.VerifierKeys,
            store: reopened);
        string Token() => harness.IssueToken(Spend(harness.Claims(restarted.IssueNonce().Value)));

        Assert.Equal(RoundsRdp(1), restarted.GetPrivacySpent(harness.DefaultKeyId));
        Assert.True((await restarted.ReleaseAsync(harness.DefaultKeyId, Token())).IsGranted);
        Assert.Equal(ReasonCode.PrivacyBudgetExhausted, (await restarted.ReleaseAsync(harness.DefaultKeyId, Token())).Reason);
        Assert.Equal(RoundsRdp(2), restarted.GetPrivacySpent(harness.DefaultKeyId));
        Assert.True(restarted.VerifyAudit().IsValid);
    }

    [EnvironmentFact]
    public async Task The_audit_log_alone_recomputes_the_stored_budget()
    {
        using BrokerHarness harness = Budgeted(RoomFor(2));
        Assert.True(harness.Register("other", BrokerHarness.BudgetedPolicy(50, 1e-6), BrokerHarness.NewDataKey()).Succeeded);
        foreach ((string key, long steps) in new[] { ("fashion-eu", Steps), ("other", 500L), ("fashion-eu", 200L), ("other", 500L), ("fashion-eu", Steps), ("fashion-eu", Steps) })
        {
            await harness.ReleaseAsync(harness.Token(BrokerHarness.Spending(Q, Sigma, steps)), harness.IdOf(key));
        }

        await harness.ReleaseAsync(harness.Token());
        PrivacyLedgerReplay replay = PrivacyLedger.Replay(harness.Broker.Audit.ReadEntries());

        Assert.Empty(replay.Faults);
        Assert.Equal(2, replay.Spent.Count);
        Assert.Equal(harness.Broker.GetPrivacySpent(harness.DefaultKeyId), replay.Spent[harness.DefaultKeyId]);
        Assert.Equal(harness.Broker.GetPrivacySpent(harness.IdOf("other")), replay.Spent[harness.IdOf("other")]);
        Assert.Contains(harness.Broker.Audit.ReadEntries(), e => e.Body.Contains(nameof(ReasonCode.PrivacyBudgetExhausted), StringComparison.Ordinal));
    }

    [EnvironmentFact]
    public async Task The_replay_finds_a_grant_whose_recorded_epsilon_was_edited()
    {
        using BrokerHarness harness = Budgeted(RoomFor(2));
        Assert.True((await harness.ReleaseAsync(harness.Token(BrokerHarness.Spending(Q, Sigma, Steps)))).IsGranted);
        AuditEntry grant = harness.Broker.Audit.ReadEntries().Last();
        JsonObject body = JsonNode.Parse(grant.Body)!.AsObject();
        body["privacy"]!["epsilonAfter"] = 0.001;

        PrivacyLedgerReplay replay = PrivacyLedger.Replay([grant with { Body = body.ToJsonString() }]);

        Assert.Single(replay.Faults);
        Assert.StartsWith($"entry {grant.Sequence}:", replay.Faults[0], StringComparison.Ordinal);
        Assert.Single(PrivacyLedger.Replay([grant with { Body = "not json" }]).Faults);
    }

    [EnvironmentFact]
    public async Task Releases_racing_for_the_last_round_of_a_budget_are_granted_once()
    {
        using BrokerHarness harness = Budgeted(RoomFor(1));
        string[] tokens = Enumerable.Range(0, 10).Select(_ => harness.Token(BrokerHarness.Spending(Q, Sigma, Steps))).ToArray();

        ReleaseOutcome[] outcomes = await Task.WhenAll(tokens.Select(t => Task.Run(() => harness.ReleaseAsync(t))));

        Assert.Single(outcomes, o => o.IsGranted);
        Assert.All(outcomes.Where(o => !o.IsGranted), o => Assert.Equal(ReasonCode.PrivacyBudgetExhausted, o.Reason));
        Assert.Equal(RoundsRdp(1), harness.Broker.GetPrivacySpent(harness.DefaultKeyId));
        Assert.Equal(RoundsRdp(1), PrivacyLedger.Replay(harness.Broker.Audit.ReadEntries()).Spent[harness.DefaultKeyId]);
        Assert.True(harness.Broker.VerifyAudit().IsValid);
    }

    [EnvironmentFact]
    public async Task Rotation_keeps_the_budget_of_the_dataset()
    {
        using BrokerHarness harness = Budgeted(RoomFor(2));
        Assert.True((await harness.ReleaseAsync(harness.Token(BrokerHarness.Spending(Q, Sigma, Steps)))).IsGranted);
        JsonObject rotate = harness.OwnerPayload("rotate", BrokerHarness.KeyName);
        rotate["key"] = Jwe.Encrypt(BrokerHarness.NewDataKey(), harness.Broker.ImportKey);
        Assert.True(harness.Broker.HandleOwnerRequest(BrokerHarness.PublicJwkJson(harness.OwnerKey), BrokerHarness.Sign(harness.OwnerKey, rotate)).Succeeded);

        ReleaseOutcome second = await harness.ReleaseAsync(harness.Token(BrokerHarness.Spending(Q, Sigma, Steps)));
        ReleaseOutcome third = await harness.ReleaseAsync(harness.Token(BrokerHarness.Spending(Q, Sigma, Steps)));

        Assert.Equal(2, second.KeyVersion);
        Assert.Equal(ReasonCode.PrivacyBudgetExhausted, third.Reason);
        Assert.Equal(RoundsRdp(2), harness.Broker.GetPrivacySpent(harness.DefaultKeyId));
    }

    [EnvironmentFact]
    public async Task A_budget_row_edited_into_garbage_makes_the_key_unreleasable()
    {
        using BrokerHarness harness = Budgeted(RoomFor(2));
        Assert.True((await harness.ReleaseAsync(harness.Token(BrokerHarness.Spending(Q, Sigma, Steps)))).IsGranted);
        _target.Execute("UPDATE privacy_budgets SET rdp = @rdp", ("@rdp", RandomNumberGenerator.GetBytes(16)));

        ReleaseOutcome outcome = await harness.ReleaseAsync(harness.Token(BrokerHarness.Spending(Q, Sigma, Steps)));

        Assert.Equal(ReasonCode.KeyIntegrityFailure, outcome.Reason);
        Assert.Null(outcome.WrappedKey);
    }

    private static JsonObject Spend(JsonObject claims)
    {
        BrokerHarness.Spending(Q, Sigma, Steps)(claims);
        return claims;
    }

    private static JsonObject Body(BrokerHarness harness, ReleaseOutcome outcome) =>
        JsonNode.Parse(harness.Broker.Audit.GetEntry(outcome.AuditSequence!.Value)!.Body)!.AsObject();

    /// <summary>A broker on this test's store holding <see cref="BrokerHarness.KeyName"/> under the default policy
    /// with a budget of <paramref name="maxEpsilon"/> at <see cref="Delta"/>.</summary>
    private BrokerHarness Budgeted(double maxEpsilon)
    {
        var harness = new BrokerHarness(store: _target.Open());
        Assert.True(harness.Register(BrokerHarness.KeyName, BrokerHarness.BudgetedPolicy(maxEpsilon, Delta), BrokerHarness.NewDataKey()).Succeeded);
        return harness;
    }
}

/// <summary>A budgeted key is released only to a round that says, well formed, what it spends (x-ms-runtime.privacy).</summary>
public sealed class PrivacyRequiredTests
{
    public static TheoryData<string, string?> MalformedSpends() => new()
    {
        { "absent", null },
        { "null", "null" },
        { "a string", "\"dp\"" },
        { "no steps", """{"samplingRate":0.01,"noiseMultiplier":1,"delta":1e-5}""" },
        { "an extra member", """{"samplingRate":0.01,"noiseMultiplier":1,"steps":10,"delta":1e-5,"epsilon":0}""" },
        { "q = 0", """{"samplingRate":0,"noiseMultiplier":1,"steps":10,"delta":1e-5}""" },
        { "q > 1", """{"samplingRate":1.5,"noiseMultiplier":1,"steps":10,"delta":1e-5}""" },
        { "σ = 0", """{"samplingRate":0.01,"noiseMultiplier":0,"steps":10,"delta":1e-5}""" },
        { "σ > 1000", """{"samplingRate":0.01,"noiseMultiplier":1001,"steps":10,"delta":1e-5}""" },
        { "fractional steps", """{"samplingRate":0.01,"noiseMultiplier":1,"steps":10.5,"delta":1e-5}""" },
        { "steps as text", """{"samplingRate":0.01,"noiseMultiplier":1,"steps":"10","delta":1e-5}""" },
        { "no steps at all", """{"samplingRate":0.01,"noiseMultiplier":1,"steps":0,"delta":1e-5}""" },
        { "too many steps", """{"samplingRate":0.01,"noiseMultiplier":1,"steps":1000001,"delta":1e-5}""" },
        { "δ too large", """{"samplingRate":0.01,"noiseMultiplier":1,"steps":10,"delta":0.1}""" },
        { "q as text", """{"samplingRate":"0.01","noiseMultiplier":1,"steps":10,"delta":1e-5}""" },
    };

    [Theory]
    [MemberData(nameof(MalformedSpends))]
    public async Task A_budgeted_key_is_denied_to_a_round_that_does_not_say_what_it_spends(string what, string? privacy)
    {
        using var harness = new BrokerHarness();
        Assert.True(harness.Register(BrokerHarness.KeyName, BrokerHarness.BudgetedPolicy(8), BrokerHarness.NewDataKey()).Succeeded);

        ReleaseOutcome outcome = await harness.ReleaseAsync(harness.Token(c =>
        {
            if (privacy is not null)
            {
                c["x-ms-runtime"]!["privacy"] = JsonNode.Parse(privacy);
            }
        }));

        Assert.False(outcome.IsGranted, what);
        Assert.Equal(ReasonCode.PrivacyRequired, outcome.Reason);
        Assert.Equal(ReleaseOutcome.CoarseDenial, outcome.WireReason);
        Assert.Contains($"\"reason\":\"{nameof(ReasonCode.PrivacyRequired)}\"", harness.Broker.Audit.GetEntry(outcome.AuditSequence!.Value)!.Body, StringComparison.Ordinal);
        Assert.Null(harness.Broker.GetPrivacySpent(harness.DefaultKeyId));
    }
}

public sealed class SqlitePrivacyBudgetTests() : PrivacyBudgetTests(KeyBrokerStoreKind.Sqlite);

[RequiresEnvironment(StoreTarget.PostgresVariable)]
[Collection(StoreTarget.PostgresCollection)]
public sealed class PostgresPrivacyBudgetTests() : PrivacyBudgetTests(KeyBrokerStoreKind.Postgres);
