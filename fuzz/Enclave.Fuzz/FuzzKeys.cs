// Fixed keys for the fuzz targets, so that seed inputs written by one process (signed tokens, JWEs) still verify
// or decrypt in another. They protect nothing: they exist only in this harness and are trusted only by it.
using System.Security.Cryptography;
using Enclave.Crypto;

namespace Enclave.Fuzz;

/// <summary>The harness's fixed, public test keys and the instant every target treats as now.</summary>
internal static class FuzzKeys
{
    public const string Issuer = "https://verifier.fuzz.invalid";
    public const string Audience = "enclave-key-broker";
    public const string TokenKeyId = "fuzz-verifier-1";

    /// <summary>The clock of every target: tokens, enrolments and certificates in the seeds are valid at it.</summary>
    public static readonly DateTimeOffset Now = new(2026, 6, 1, 12, 0, 0, TimeSpan.Zero);

    public static TimeProvider Time { get; } = new FixedTimeProvider(Now);

    /// <summary>Signs attestation tokens as the trusted verifier (ES256).</summary>
    public static ECDsa TokenSigner { get; } = LoadEcdsa(TokenSignerPem);

    /// <summary>Signs enrolment and owner requests (ES256).</summary>
    public static ECDsa RequestSigner { get; } = LoadEcdsa(RequestSignerPem);

    /// <summary>Recipient of ECDH-ES+A256KW JWEs.</summary>
    public static ECDiffieHellman EcdhRecipient { get; } = LoadEcdh(EcdhRecipientPem);

    /// <summary>Recipient of RSA-OAEP-256 JWEs.</summary>
    public static RSA RsaRecipient { get; } = LoadRsa(RsaRecipientPem);

    public static Jwk TokenSignerJwk { get; } = Jwk.FromEcPublic(TokenSigner.ExportParameters(false), TokenKeyId, "sig");

    public static Jwk RequestSignerJwk { get; } = Jwk.FromEcPublic(RequestSigner.ExportParameters(false));

    public static JwkSet VerifierKeys { get; } = new([TokenSignerJwk]);

    /// <summary>A fixed 256-bit data key for encrypted datasets.</summary>
    public static byte[] DataKey { get; } = SHA256.HashData("enclave-fuzz-data-key"u8);

    /// <summary>Signs <paramref name="payload"/> as a compact JWS with the given header members.</summary>
    public static string SignCompact(ECDsa key, string? kid, string? typ, ReadOnlySpan<byte> payload) =>
        Jws.Sign(payload, key, kid, typ);

    private const string TokenSignerPem =
        """
        -----BEGIN PRIVATE KEY-----
        MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgUShyxXB3y0OoZewa
        gYshr/gfVxxz6HKLo6VPhVXqAf+hRANCAAQAkPlW0kjj/pB83XlMaX2m77qPWwfJ
        O8C9aOcpHN8N2dLAl46+XMpgxl1584EFzHOPZ5S4g2wzbPGa1QRc5oxT
        -----END PRIVATE KEY-----
        """;

    private const string RequestSignerPem =
        """
        -----BEGIN PRIVATE KEY-----
        MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgaRI8LxD9rK5mLXhN
        CZ+v0imVIAvVpzopEzBEpMhkX5ehRANCAARVHr5NgpPeltjKncaXUv8Fz3Z2plnF
        63jGInJzS9v3YBDFMbSnHddNVAoHNydBuSNQIKdg1tqZnqlKQMdmcIar
        -----END PRIVATE KEY-----
        """;

    private const string EcdhRecipientPem =
        """
        -----BEGIN PRIVATE KEY-----
        MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgai9JKqO1tYzJoTAh
        ujelna1Zxet+J76teaGMVbcNzsChRANCAASuqhIl73gT8lXxYjy9A0kBGr4791Xj
        NsTqLRLzQnbnZ5lppdNIas4heTUWm4V310v1yIu87cnzrHcTpiTewmsd
        -----END PRIVATE KEY-----
        """;

    private const string RsaRecipientPem =
        """
        -----BEGIN PRIVATE KEY-----
        MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQC1rHhHoBK0pmDw
        CKI2dgPAaN/eMKUWixASTUJemc6/8mtf9a68PX7RwaIARV70X9p7krjxYydXQeQ1
        OQAA46tHbG3O8PX3bOvyVbtTwKGDeJC4tcNR+UZSp5eNrtG60d/92tfB1irHzZJq
        DAjRmo7wBix35ikbJC7IRAdQqOQANbTChnvLZ1cExozw0GAPV97o+EkmIDR9YrJ7
        LxXaP4KRZwgSPAv9HsRdXmCxg9a+yLwalPs1Ih0VhSpkRKxotsMj6Dpl7uc1ltY6
        trkwxBhe4K7v02+kbeuPTbAAyZZ1gytGW9TmPwY4u/wmHhjxsv1eduOMlN3+rCgL
        zQjxrR1rAgMBAAECggEATfMP8q+AhyliK2uQ6iwtxOdasrONigQl46xpnzyARMSH
        hLdd/1+lY+ugjlw1d0YPcPkNyGiiTyKy/5ES6s7ExVMFNIcYCk8eV66oPzHGOypG
        cjJu+WOq5DkLYlvRmkaFxJ6a94zkczFFsqGyQPj/foYvm0xSc9ZNClmCB/5HQb0P
        8ngFN1JPFiQbQFhBJ4XyVi603TgdSlkNTxN1eC79C8Ih9r2OImc50d2Yk+Q8IiFX
        trLF5+UYE9tFu/RekFWZG6rxbDoLyqgz4c000z2O541ho4sccA8lWQg0ods9iSeN
        3AhtJ//nukDwGqDkW+KvESMzQ3a8qSFYPFjSbxYVxQKBgQDmv1a1qqSB5Il4l6lk
        r9UzgE9ctSg2PGsZU+fn7Gv/0Q+J82NbEHYe7NRhbqCPbpYRN8xQCvTWlE04FOcZ
        1z3Qc0hijPVCaFynl08F+B7NkUVdYoG1mUFMpjsfPz/O/wRh9j1I5K0d/HV7e0VO
        Nt4zyX/8iVRVOltWypPwm3DMTwKBgQDJjkX3woekyLz/CnBjM6MnZ3eC3g2WeRlu
        jfypqQOVFHq1n8udRhoxose+2ummsU0qiGBub1qG8FRnoZiyxGq/DLOpaBAk5c7h
        zhagtpwWNCpN5b+qtgFupNnnuwQu9nJXUP/zgEiQMZl1pqLjIWx/ONawU/kEQTfP
        V1hg37OKJQKBgEb4YLX9Zx2gafvSQcJ7Jkrx0vcDrPuJd7NRkElP+SO0bGAUoOF4
        XaxDUUsqWG3lKHjhPZD83bNF574xB6d2AUgkvQW6rxCewqi1LBP87ZRycvA3BQgS
        u/fUROjmbjy/SNzMfKr30psfdA7nqjhVPeCVwCyvHGYeTcuTAQ+G75mXAoGAQhN3
        UqMebuI0O3RDpfHuweNEpc2ALN1kff7kXwZ+mygMlnBdgyDRQ4Z271W7FZ+4iYIO
        AwZUajptoU+zzJ9h02IpoBbye/Yu3Y3/kw5qm0jcuY7hR+jFDW3T1glUdMTsdT2j
        u0NKBqOMCKrpaYayl/6dO088Kq3qyvl6ir+rj1UCgYAIj/B+K1A6/d+ndgcRQA4P
        97tihYCBkl2vsFJAC+dEFh7gwcMi/JDp5BiB3LgurvbK6/UVfJpkJJQBxB67ANkY
        Hum4Kzi4IfqVph1A0rUgn9c3bIxImiGp6ASCEsKKE1l2e0hcD4/b9PHPB/3tc+LK
        mGSA6lJXY8amZNdQzyFTqg==
        -----END PRIVATE KEY-----
        """;

    private static ECDsa LoadEcdsa(string pem)
    {
        var key = ECDsa.Create();
        key.ImportFromPem(pem);
        return key;
    }

    private static ECDiffieHellman LoadEcdh(string pem)
    {
        var key = ECDiffieHellman.Create();
        key.ImportFromPem(pem);
        return key;
    }

    private static RSA LoadRsa(string pem)
    {
        var key = RSA.Create();
        key.ImportFromPem(pem);
        return key;
    }

    private sealed class FixedTimeProvider(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
