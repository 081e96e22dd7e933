using System.Security.Cryptography;

namespace Enclave.Crypto.Tests;

// The keys OpenSslKeys builds directly must be the keys .NET would have imported: same parameters, and every
// operation on them interoperates with keys made the ordinary way.
public sealed class OpenSslKeysTests
{
    [Fact]
    public void DirectPathIsUsedWhereDotnetRunsOnOpenSsl3()
    {
        bool expected = OperatingSystem.IsLinux() && (SafeEvpPKeyHandle.OpenSslVersion >> 28) == 3
            && Environment.GetEnvironmentVariable(OpenSslKeys.SwitchVariable) != "0";
        Assert.Equal(expected, OpenSslKeys.IsAvailable);
        Assert.False(OpenSslKeys.Probe("0"));
    }

    [Theory]
    [InlineData(2048)]
    [InlineData(3072)]
    [InlineData(4096)]
    public void RsaPublicKeyIsTheKeyGiven(int bits)
    {
        using RSA owner = RSA.Create(bits);
        RSAParameters parameters = owner.ExportParameters(false);
        using RSA? direct = OpenSslKeys.TryCreateRsaPublic(parameters.Modulus!, parameters.Exponent!);
        if (!OpenSslKeys.IsAvailable)
        {
            Assert.Null(direct);
            return;
        }

        Assert.NotNull(direct);
        Assert.Equal(bits, direct.KeySize);
        RSAParameters exported = direct.ExportParameters(false);
        Assert.Equal(parameters.Modulus, exported.Modulus);
        Assert.Equal(parameters.Exponent, exported.Exponent);
        Assert.Throws<CryptographicException>(() => direct.ExportParameters(true));

        byte[] secret = RandomNumberGenerator.GetBytes(32);
        byte[] ciphertext = direct.Encrypt(secret, RSAEncryptionPadding.OaepSHA256);
        Assert.Equal(secret, owner.Decrypt(ciphertext, RSAEncryptionPadding.OaepSHA256));

        byte[] message = "signed by the owner"u8.ToArray();
        byte[] signature = owner.SignData(message, HashAlgorithmName.SHA256, RSASignaturePadding.Pss);
        Assert.True(direct.VerifyData(message, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pss));
        signature[^1] ^= 1;
        Assert.False(direct.VerifyData(message, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pss));
    }

    public static TheoryData<string> Curves => new() { "P-256", "P-384" };

    [Theory]
    [MemberData(nameof(Curves))]
    public void EcPublicKeysAreThePointGiven(string crv)
    {
        EcCurve curve = EcCurve.FromName(crv)!;
        using ECDsa signer = ECDsa.Create(curve.Curve);
        ECParameters point = signer.ExportParameters(false);
        using ECDsa? verifier = OpenSslKeys.TryCreateECDsaPublic(curve, point.Q.X!, point.Q.Y!);
        using ECDiffieHellman? agreement = OpenSslKeys.TryCreateECDiffieHellmanPublic(curve, point.Q.X!, point.Q.Y!);
        if (!OpenSslKeys.IsAvailable)
        {
            Assert.Null(verifier);
            Assert.Null(agreement);
            return;
        }

        Assert.NotNull(verifier);
        Assert.NotNull(agreement);
        foreach (ECParameters exported in new[] { verifier.ExportParameters(false), agreement.ExportParameters(false) })
        {
            Assert.Same(curve, EcCurve.FromCurve(exported.Curve));
            Assert.Equal(point.Q.X, exported.Q.X);
            Assert.Equal(point.Q.Y, exported.Q.Y);
        }

        byte[] message = "signed by the owner"u8.ToArray();
        byte[] signature = signer.SignData(message, curve.Hash);
        Assert.True(verifier.VerifyData(message, signature, curve.Hash));
        signature[0] ^= 1;
        Assert.False(verifier.VerifyData(message, signature, curve.Hash));

        // The same agreement as with the key imported by .NET.
        using ECDiffieHellman other = ECDiffieHellman.Create(curve.Curve);
        using ECDiffieHellman imported = ECDiffieHellman.Create(new ECParameters { Curve = curve.Curve, Q = point.Q });
        using ECDiffieHellmanPublicKey directPublic = agreement.PublicKey;
        using ECDiffieHellmanPublicKey importedPublic = imported.PublicKey;
        Assert.Equal(other.DeriveRawSecretAgreement(importedPublic), other.DeriveRawSecretAgreement(directPublic));
    }

    [Theory]
    [MemberData(nameof(Curves))]
    public void PointsOffTheCurveOrNotCanonicalAreRefused(string crv)
    {
        EcCurve curve = EcCurve.FromName(crv)!;
        using ECDsa key = ECDsa.Create(curve.Curve);
        ECParameters point = key.ExportParameters(false);
        byte[] x = point.Q.X!;
        byte[] y = point.Q.Y!;
        byte[] yPlusOne = (byte[])y.Clone();
        yPlusOne[^1] ^= 1;
        byte[] allOnes = Enumerable.Repeat((byte)0xFF, curve.CoordinateSize).ToArray();
        byte[] zeros = new byte[curve.CoordinateSize];

        byte[] prime = curve.Prime.ToByteArray(isUnsigned: true, isBigEndian: true);

        (byte[] X, byte[] Y)[] refused =
            [(x, yPlusOne), (allOnes, y), (x, allOnes), (zeros, zeros), (prime, y), (x[1..], y), (x, [.. y, 0])];
        foreach ((byte[] badX, byte[] badY) in refused)
        {
            Assert.Null(OpenSslKeys.TryCreateECDsaPublic(curve, badX, badY));
            Assert.Null(OpenSslKeys.TryCreateECDiffieHellmanPublic(curve, badX, badY));
            Assert.Null(OpenSslKeys.TryAgreeEphemeral(curve, badX, badY, out byte[] ephemeralX, out _));
            Assert.Empty(ephemeralX);
        }

        // A refusal leaves nothing behind: the next import and agreement work.
        using ECDsa? after = OpenSslKeys.TryCreateECDsaPublic(curve, x, y);
        Assert.Equal(OpenSslKeys.IsAvailable, after is not null);
        Assert.Equal(OpenSslKeys.IsAvailable, OpenSslKeys.TryAgreeEphemeral(curve, x, y, out _, out _) is not null);
    }

    [Theory]
    [MemberData(nameof(Curves))]
    public void EphemeralAgreementsAreFreshAndMatchTheRecipients(string crv)
    {
        EcCurve curve = EcCurve.FromName(crv)!;
        using ECDiffieHellman recipient = ECDiffieHellman.Create(curve.Curve);
        ECParameters point = recipient.ExportParameters(false);
        byte[]? first = OpenSslKeys.TryAgreeEphemeral(curve, point.Q.X!, point.Q.Y!, out byte[] firstX, out byte[] firstY);
        byte[]? second = OpenSslKeys.TryAgreeEphemeral(curve, point.Q.X!, point.Q.Y!, out byte[] secondX, out _);
        if (!OpenSslKeys.IsAvailable)
        {
            Assert.Null(first);
            return;
        }

        Assert.NotNull(first);
        Assert.NotNull(second);
        Assert.Equal(curve.CoordinateSize, first.Length);
        Assert.Equal(curve.CoordinateSize, firstX.Length);
        Assert.True(curve.IsOnCurve(firstX, firstY));
        Assert.NotEqual(firstX, secondX);
        Assert.NotEqual(first, second);

        // The recipient, with .NET's own import of the ephemeral point, derives the same Z.
        Assert.Equal(RecipientSecret(recipient, curve.Curve, firstX, firstY), first);
    }

    [Fact]
    public void ConcurrentUseGivesConsistentKeys()
    {
        using ECDiffieHellman recipient = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        ECParameters point = recipient.ExportParameters(false);
        using RSA rsa = RSA.Create(2048);
        RSAParameters rsaPublic = rsa.ExportParameters(false);
        int failures = 0;
        Parallel.For(0, 400, new ParallelOptions { MaxDegreeOfParallelism = 8 }, _ =>
        {
            using ECDiffieHellman ephemeral = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
            using ECDiffieHellman peer = OpenSslKeys.TryCreateECDiffieHellmanPublic(EcCurve.P256, point.Q.X!, point.Q.Y!)
                ?? ECDiffieHellman.Create(point);
            using ECDiffieHellmanPublicKey peerPublic = peer.PublicKey;
            using ECDiffieHellmanPublicKey ephemeralPublic = ephemeral.PublicKey;
            byte[]? direct = OpenSslKeys.TryAgreeEphemeral(EcCurve.P256, point.Q.X!, point.Q.Y!, out byte[] directX, out byte[] directY);
            bool directAgreed = direct is null
                ? !OpenSslKeys.IsAvailable
                : direct.AsSpan().SequenceEqual(RecipientSecret(recipient, ECCurve.NamedCurves.nistP256, directX, directY));
            using RSA encryptor = OpenSslKeys.TryCreateRsaPublic(rsaPublic.Modulus!, rsaPublic.Exponent!) ?? RSA.Create(rsaPublic);
            byte[] secret = RandomNumberGenerator.GetBytes(32);
            bool agreed = ephemeral.DeriveRawSecretAgreement(peerPublic).AsSpan().SequenceEqual(recipient.DeriveRawSecretAgreement(ephemeralPublic));
            bool decrypted = rsa.Decrypt(encryptor.Encrypt(secret, RSAEncryptionPadding.OaepSHA256), RSAEncryptionPadding.OaepSHA256).AsSpan().SequenceEqual(secret);
            if (!agreed || !directAgreed || !decrypted)
            {
                Interlocked.Increment(ref failures);
            }
        });
        Assert.Equal(0, failures);
    }

    /// <summary>Z as the recipient derives it, importing the sender's point the ordinary .NET way.</summary>
    private static byte[] RecipientSecret(ECDiffieHellman recipient, ECCurve curve, byte[] x, byte[] y)
    {
        using ECDiffieHellman sender = ECDiffieHellman.Create(new ECParameters { Curve = curve, Q = new ECPoint { X = x, Y = y } });
        using ECDiffieHellmanPublicKey senderPublic = sender.PublicKey;
        return recipient.DeriveRawSecretAgreement(senderPublic);
    }
}
