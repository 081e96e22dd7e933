using System.Text;
using Enclave.Crypto;

namespace Enclave.Fuzz;

/// <summary>Targets for the JOSE and encrypted-dataset parsers of the crypto library.</summary>
internal static class CryptoTargets
{
    public const string DatasetId = "fuzz-dataset";
    public const string Region = "eu-west";

    private static readonly JwtValidationParameters s_jwtParameters = new()
    {
        ValidIssuers = [FuzzKeys.Issuer],
        ValidAudiences = [FuzzKeys.Audience],
        KeyResolver = ResolveTokenKey,
        AllowedAlgorithms = ["ES256", "ES384"],
        MaxLifetime = TimeSpan.FromHours(1),
        Time = FuzzKeys.Time,
    };

    public static void Jws(ReadOnlySpan<byte> input)
    {
        try
        {
            Enclave.Crypto.Jws.Verify(Encoding.UTF8.GetString(input), ResolveTokenKey, ["ES256", "ES384", "RS256", "PS256"]);
        }
        catch (JoseException)
        {
        }
    }

    /// <summary>Fuzzed claims signed with the trusted key: claim parsing and checks after the signature.</summary>
    public static void JwtClaims(ReadOnlySpan<byte> input)
    {
        string token = FuzzKeys.SignCompact(FuzzKeys.TokenSigner, FuzzKeys.TokenKeyId, "JWT", input);
        try
        {
            Jwt.Validate(token, s_jwtParameters);
        }
        catch (JoseException)
        {
        }
    }

    public static void JweEcdh(ReadOnlySpan<byte> input)
    {
        try
        {
            Jwe.Decrypt(Encoding.UTF8.GetString(input), FuzzKeys.EcdhRecipient);
        }
        catch (JoseException)
        {
        }
    }

    public static void JweRsa(ReadOnlySpan<byte> input)
    {
        try
        {
            Jwe.Decrypt(Encoding.UTF8.GetString(input), FuzzKeys.RsaRecipient);
        }
        catch (JoseException)
        {
        }
    }

    public static void Jwk(ReadOnlySpan<byte> input)
    {
        try
        {
            Enclave.Crypto.Jwk.Parse(Encoding.UTF8.GetString(input));
        }
        catch (JoseException)
        {
        }
    }

    public static void JwkSet(ReadOnlySpan<byte> input)
    {
        try
        {
            Enclave.Crypto.JwkSet.Parse(Encoding.UTF8.GetString(input));
        }
        catch (JoseException)
        {
        }
    }

    public static void EncryptedDataset(ReadOnlySpan<byte> input)
    {
        try
        {
            using var stream = new MemoryStream(input.ToArray(), writable: false);
            Enclave.Crypto.EncryptedDataset.DecryptAll(stream, FuzzKeys.DataKey, DatasetId, Region);
        }
        catch (EncryptedDatasetException)
        {
        }
    }

    private static Jwk? ResolveTokenKey(string? kid) =>
        kid is null ? null : FuzzKeys.VerifierKeys.Find(kid);
}
