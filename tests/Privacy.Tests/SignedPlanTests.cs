using System.Security.Cryptography;
using System.Text;
using Enclave.Crypto;

namespace Enclave.Privacy.Tests;

public sealed class SignedPlanTests
{
    private static readonly TrainingPlan s_plan = TrainingPlan.Parse(Encoding.UTF8.GetBytes("""
        {"type":"enclave-training-plan/1","id":"p","purpose":"research","model":{"kind":"mlp","hidden":8},
         "optimizer":{"learningRate":0.1,"momentum":0},"localEpochs":1,"batchSize":32,"rounds":2,
         "algorithm":{"proximalMu":0,"server":{"kind":"sgd","learningRate":1,"momentum":0}},
         "updateClipNorm":1,"privacy":{"kind":"none"},"seed":9007199254740991}
        """));

    [Fact]
    public void A_plan_signed_by_a_known_key_verifies_and_names_its_signer()
    {
        using var owner = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        Jwk ownerJwk = Jwk.FromEcPublic(owner.ExportParameters(false));

        SignedPlan signed = SignedPlan.Sign(s_plan, owner);
        SignedPlan verified = SignedPlan.Verify(signed.Compact + "\n", kid => kid == ownerJwk.ComputeThumbprint() ? ownerJwk : null);

        Assert.Equal(ownerJwk.ComputeThumbprint(), verified.Signer);
        Assert.Equal(s_plan.Sha256Hex, verified.Plan.Sha256Hex);
        Assert.Equal(s_plan.Sha256Hex, SignedPlan.ReadEither(Encoding.UTF8.GetBytes(signed.Compact)).Sha256Hex);
        Assert.Equal(s_plan.Sha256Hex, SignedPlan.ReadEither(s_plan.CanonicalBytes).Sha256Hex);
    }

    [Fact]
    public void A_plan_signed_by_another_key_or_resolved_to_a_key_of_another_thumbprint_does_not_verify()
    {
        using var owner = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var other = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        Jwk otherJwk = Jwk.FromEcPublic(other.ExportParameters(false));
        string compact = SignedPlan.Sign(s_plan, owner).Compact;

        Assert.Throws<TrainingPlanException>(() => SignedPlan.Verify(compact, _ => null));
        // A resolver that hands back some other key for the owner's kid is not trusted with it.
        Assert.Throws<TrainingPlanException>(() => SignedPlan.Verify(compact, _ => otherJwk));
    }

    [Fact]
    public void A_jws_that_is_not_a_signed_plan_in_canonical_form_is_refused()
    {
        using var owner = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        Jwk ownerJwk = Jwk.FromEcPublic(owner.ExportParameters(false));
        string kid = ownerJwk.ComputeThumbprint();
        Jwk? Resolve(string k) => k == kid ? ownerJwk : null;

        string wrongType = Jws.Sign(s_plan.CanonicalBytes, owner, kid, "JWT");
        string notCanonical = Jws.Sign(Encoding.UTF8.GetBytes(s_plan.ToJson().ToJsonString()), owner, kid, SignedPlan.JwsType);

        Assert.Contains("typ", Assert.Throws<TrainingPlanException>(() => SignedPlan.Verify(wrongType, Resolve)).Message);
        Assert.Contains("canonical", Assert.Throws<TrainingPlanException>(() => SignedPlan.Verify(notCanonical, Resolve)).Message);
        Assert.Throws<TrainingPlanException>(() => SignedPlan.ReadEither("not.a-jws"u8));
    }

    [Fact]
    public void A_seed_beyond_what_every_json_reader_holds_exactly_is_refused()
    {
        string text = s_plan.ToJson().ToJsonString().Replace("9007199254740991", "9007199254740992");

        Assert.Contains("plan.seed", Assert.Throws<TrainingPlanException>(() => TrainingPlan.Parse(Encoding.UTF8.GetBytes(text))).Message);
    }
}
