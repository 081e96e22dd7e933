// A training plan as its model owner signed it (docs/formats.md section 14): a compact JWS, ES256, over the plan's
// canonical bytes, header kid = the RFC 7638 thumbprint of the owner's P-256 key, typ "enclave-plan+jws". The
// header carries no key: whoever checks the signature resolves the kid in keys they hold.
using System.Security.Cryptography;
using System.Text;
using Enclave.Crypto;

namespace Enclave.Privacy;

/// <summary>A plan, its signature and the thumbprint of the key that made it.</summary>
public sealed class SignedPlan
{
    public const string JwsType = "enclave-plan+jws";

    private SignedPlan(TrainingPlan plan, string compact, string signer)
    {
        Plan = plan;
        Compact = compact;
        Signer = signer;
    }

    public TrainingPlan Plan { get; }

    /// <summary>The compact JWS, as signed.</summary>
    public string Compact { get; }

    /// <summary>RFC 7638 thumbprint of the signing key (the header's kid).</summary>
    public string Signer { get; }

    /// <summary>Signs <paramref name="plan"/>'s canonical bytes with a P-256 key.</summary>
    public static SignedPlan Sign(TrainingPlan plan, ECDsa ownerKey)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(ownerKey);
        string kid = Jwk.FromEcPublic(ownerKey.ExportParameters(false)).ComputeThumbprint();
        return new SignedPlan(plan, Jws.Sign(plan.CanonicalBytes, ownerKey, kid, JwsType), kid);
    }

    /// <summary>Checks a signed plan against the keys <paramref name="resolveKey"/> knows (by thumbprint) and
    /// parses the plan it carries.</summary>
    /// <exception cref="TrainingPlanException">The signature does not verify with a known key, the JWS is not a
    /// signed plan, or its payload is not a plan in canonical form.</exception>
    public static SignedPlan Verify(string compact, Func<string, Jwk?> resolveKey)
    {
        ArgumentNullException.ThrowIfNull(compact);
        ArgumentNullException.ThrowIfNull(resolveKey);
        JwsVerified verified;
        try
        {
            // The resolver is asked only for the kid; a key is accepted only if its thumbprint is that kid.
            verified = Jws.Verify(compact.Trim(), kid => kid is not null && resolveKey(kid) is { } key && key.ComputeThumbprint() == kid ? key : null);
        }
        catch (JoseException ex)
        {
            throw new TrainingPlanException($"the signed plan does not verify ({ex.Code}): {ex.Message}");
        }

        if (verified.Header["typ"]?.GetValue<string>() != JwsType)
        {
            throw new TrainingPlanException($"the JWS is not a signed plan (its typ is not \"{JwsType}\")");
        }

        TrainingPlan plan = TrainingPlan.Parse(verified.Payload);
        if (!plan.CanonicalBytes.SequenceEqual(verified.Payload))
        {
            throw new TrainingPlanException("the signed payload is not the plan's canonical form (docs/formats.md section 14)");
        }

        return new SignedPlan(plan, compact.Trim(), verified.Kid!);
    }

    /// <summary>The plan inside a signed plan without checking the signature (to show or hash what a file says).</summary>
    /// <exception cref="TrainingPlanException">The JWS or the plan is malformed.</exception>
    public static TrainingPlan ReadUnverified(string compact)
    {
        try
        {
            return TrainingPlan.Parse(CompactJws.Parse(compact.Trim()).Payload);
        }
        catch (JoseException ex)
        {
            throw new TrainingPlanException($"the signed plan is not a compact JWS ({ex.Code}): {ex.Message}");
        }
    }

    /// <summary>The signer's kid of a signed plan without checking the signature.</summary>
    public static string? ReadUnverifiedSigner(string compact)
    {
        try
        {
            return CompactJws.Parse(compact.Trim()).GetHeaderString("kid");
        }
        catch (JoseException)
        {
            return null;
        }
    }

    /// <summary>Reads either form a plan file may have: plan JSON, or a signed plan (compact JWS text).</summary>
    public static TrainingPlan ReadEither(ReadOnlySpan<byte> file)
    {
        ReadOnlySpan<byte> trimmed = file.Trim("\r\n\t "u8);
        return trimmed.Length > 0 && trimmed[0] == (byte)'{'
            ? TrainingPlan.Parse(trimmed)
            : ReadUnverified(Encoding.UTF8.GetString(trimmed));
    }
}
