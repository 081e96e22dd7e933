// Shared helpers for the crypto tests: key factories, raw JOSE assembly and a fixed clock.

using System.Security.Cryptography;
using System.Text;

namespace Enclave.Crypto.Tests;

internal static class TestSupport
{
    private static readonly Lazy<RSA> s_rsa2048 = new(() => RSA.Create(2048));

    /// <summary>One 2048-bit RSA key shared by the tests (generated once per run).</summary>
    public static RSA Rsa2048 => s_rsa2048.Value;

    public static ECDsa NewP256() => ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public static ECDsa NewP384() => ECDsa.Create(ECCurve.NamedCurves.nistP384);

    public static Jwk PublicJwk(ECDsa key, string? kid = null, string? use = null) =>
        Jwk.FromEcPublic(key.ExportParameters(false), kid, use);

    public static Func<string?, Jwk?> Resolver(Jwk key) =>
        kid => string.Equals(kid, key.Kid, StringComparison.Ordinal) ? key : null;

    public static string B64(string text) => Base64Url.Encode(Encoding.UTF8.GetBytes(text));

    /// <summary>Signs arbitrary header and payload JSON with ECDSA (P1363), bypassing the library's header writer.</summary>
    public static string SignRaw(string headerJson, string payloadJson, ECDsa key, HashAlgorithmName hash)
    {
        string input = B64(headerJson) + "." + B64(payloadJson);
        byte[] signature = key.SignData(Encoding.ASCII.GetBytes(input), hash, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        return input + "." + Base64Url.Encode(signature);
    }

    public static string SignRaw(string headerJson, string payloadJson, ECDsa key) =>
        SignRaw(headerJson, payloadJson, key, HashAlgorithmName.SHA256);

    public static string WithSignature(string compact, byte[] signature) =>
        compact.Substring(0, compact.LastIndexOf('.') + 1) + Base64Url.Encode(signature);

    /// <summary>Decodes part <paramref name="part"/> of a compact serialisation, flips one bit of byte
    /// <paramref name="index"/>, and re-encodes it.</summary>
    public static string FlipBit(string compact, int part, int index)
    {
        string[] parts = compact.Split('.');
        byte[] bytes = Base64Url.Decode(parts[part]);
        bytes[index] ^= 0x01;
        parts[part] = Base64Url.Encode(bytes);
        return string.Join('.', parts);
    }

    public static string ReplacePart(string compact, int part, string value)
    {
        string[] parts = compact.Split('.');
        parts[part] = value;
        return string.Join('.', parts);
    }

    public static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", string.Empty, StringComparison.Ordinal));
}

internal sealed class FixedTimeProvider : TimeProvider
{
    private readonly DateTimeOffset _now;

    public FixedTimeProvider(DateTimeOffset now)
    {
        _now = now;
    }

    public override DateTimeOffset GetUtcNow() => _now;
}
