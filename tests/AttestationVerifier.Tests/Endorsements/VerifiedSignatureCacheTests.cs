using System.Security.Cryptography;
using Enclave.AttestationVerifier.Endorsements;

namespace Enclave.AttestationVerifier.Tests.Endorsements;

/// <summary>The verified-signature cache keys each part with its length: no two different inputs share a key.</summary>
public sealed class VerifiedSignatureCacheTests
{
    [Fact]
    public void Same_bytes_split_differently_between_data_and_signature_do_not_collide()
    {
        byte[] signer = RandomNumberGenerator.GetBytes(32);
        byte[] bytes = RandomNumberGenerator.GetBytes(96);
        Assert.True(VerifiedSignatureCache.Verify(bytes.AsSpan(0, 64), bytes.AsSpan(64), signer, () => true));

        bool ran = false;
        bool other = VerifiedSignatureCache.Verify(bytes.AsSpan(0, 40), bytes.AsSpan(40), signer, () =>
        {
            ran = true;
            return false;
        });

        Assert.True(ran);
        Assert.False(other);
    }

    [Fact]
    public void Same_bytes_split_differently_between_signature_and_signer_do_not_collide()
    {
        byte[] data = RandomNumberGenerator.GetBytes(48);
        byte[] tail = RandomNumberGenerator.GetBytes(96);
        Assert.True(VerifiedSignatureCache.Verify(data, tail.AsSpan(0, 64), tail.AsSpan(64), () => true));

        Assert.False(VerifiedSignatureCache.Verify(data, tail.AsSpan(0, 70), tail.AsSpan(70), () => false));
    }

    [Fact]
    public void Signed_object_and_detached_forms_do_not_collide()
    {
        byte[] signedObject = RandomNumberGenerator.GetBytes(64);
        byte[] signer = RandomNumberGenerator.GetBytes(32);
        Assert.True(VerifiedSignatureCache.Verify(signedObject, signer, () => true));

        Assert.False(VerifiedSignatureCache.Verify(signedObject, [], signer, () => false));
    }

    [Fact]
    public void Same_input_verified_once_is_not_verified_again()
    {
        byte[] data = RandomNumberGenerator.GetBytes(48);
        byte[] signature = RandomNumberGenerator.GetBytes(64);
        byte[] signer = RandomNumberGenerator.GetBytes(32);
        int runs = 0;
        bool Count()
        {
            runs++;
            return true;
        }

        Assert.True(VerifiedSignatureCache.Verify(data, signature, signer, Count));
        Assert.True(VerifiedSignatureCache.Verify(data, signature, signer, Count));

        Assert.Equal(1, runs);
    }
}
