using System.Security.Cryptography;
using System.Text;
using Enclave.SecureAggregation;

namespace Enclave.SecureAggregation.Tests;

public sealed class MessageSignatureTests
{
    private static readonly byte[] s_payload = Encoding.UTF8.GetBytes("masked vector");

    [Fact]
    public void ASignatureVerifiesOnlyForItsKindPayloadAndKey()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var other = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        byte[] signature = MessageSignature.Sign(key, "masked-input", s_payload);
        Assert.True(MessageSignature.Verify(key, "masked-input", s_payload, signature));
        Assert.False(MessageSignature.Verify(key, "unmask", s_payload, signature));
        Assert.False(MessageSignature.Verify(other, "masked-input", s_payload, signature));
        byte[] tampered = (byte[])s_payload.Clone();
        tampered[0] ^= 1;
        Assert.False(MessageSignature.Verify(key, "masked-input", tampered, signature));
    }

    [Fact]
    public void ZeroAndMalformedSignaturesAreRejected()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        Assert.False(MessageSignature.Verify(key, "advertise", s_payload, new byte[64]));
        Assert.False(MessageSignature.Verify(key, "advertise", s_payload, new byte[63]));
        byte[] signature = MessageSignature.Sign(key, "advertise", s_payload);
        byte[] rZero = (byte[])signature.Clone();
        Array.Clear(rZero, 0, 32);
        Assert.False(MessageSignature.Verify(key, "advertise", s_payload, rZero));
    }
}
