using Enclave.AttestationVerifier.Endorsements;
using Enclave.AttestationVerifier.Evidence;
using Enclave.AttestationVerifier.Evidence.Maa;
using Enclave.AttestationVerifier.Evidence.Nitro;
using Enclave.AttestationVerifier.Tests.Maa;
using Enclave.AttestationVerifier.Verification;
using Enclave.AttestationVerifier.Verification.Maa;
using Enclave.AttestationVerifier.Verification.Nitro;

namespace Enclave.AttestationVerifier.Tests.Nitro;

/// <summary>
/// Seeded random edits (flips, overwrites, cuts, insertions) of genuine Nitro documents and MAA tokens: the
/// parsers throw only their format exception, Verify never throws, and no edited input verifies.
/// </summary>
public sealed class RandomMutationTests
{
    private const int Iterations = 300;

    [Theory]
    [InlineData(NitroSample.Base, 1)]
    [InlineData(NitroSample.Debug, 2)]
    public void Nitro_parser_and_verifier_survive_random_edits(string sample, int seed)
    {
        NitroSample s = NitroSample.Load(sample);
        var verifier = new NitroVerifier();
        var random = new Random(seed);
        for (int i = 0; i < Iterations; i++)
        {
            byte[] mutated = Mutate(s.Document, random);
            if (mutated.AsSpan().SequenceEqual(s.Document))
            {
                continue;
            }

            try
            {
                NitroAttestationDocument.Parse(mutated);
            }
            catch (EvidenceFormatException e)
            {
                Assert.Equal(EvidenceFormat.Nitro, e.Format);
            }

            HardwareVerificationReport report = verifier.Verify(mutated, EndorsementSet.Empty, s.At);
            Assert.False(report.Verified, $"iteration {i} verified");
            Assert.NotEmpty(report.Errors);
        }
    }

    [Fact]
    public void Maa_parser_and_verifier_survive_random_edits()
    {
        byte[] token = MaaConformanceTests.Token(MaaConformanceTests.SgxEnclave).AsSpan().TrimEnd("\r\n"u8).ToArray();
        EndorsementSet jwks = MaaConformanceTests.Jwks(MaaConformanceTests.SgxEnclave);
        DateTimeOffset at = MaaConformanceTests.At(MaaConformanceTests.SgxEnclave);
        var verifier = new MaaVerifier(MaaConformanceTests.SharedWus);
        var random = new Random(3);
        for (int i = 0; i < Iterations; i++)
        {
            byte[] mutated = Mutate(token, random);
            if (mutated.AsSpan().TrimEnd(" \t\r\n"u8).SequenceEqual(token))
            {
                continue;
            }

            try
            {
                MaaToken.Parse(mutated);
            }
            catch (EvidenceFormatException e)
            {
                Assert.Equal(EvidenceFormat.Maa, e.Format);
            }

            HardwareVerificationReport report = verifier.Verify(mutated, jwks, at);
            Assert.False(report.Verified, $"iteration {i} verified: {System.Text.Encoding.ASCII.GetString(mutated)}");
        }
    }

    private static byte[] Mutate(byte[] original, Random random)
    {
        byte[] data = (byte[])original.Clone();
        switch (random.Next(4))
        {
            case 0:
                data[random.Next(data.Length)] ^= (byte)(1 << random.Next(8));
                return data;
            case 1:
                data[random.Next(data.Length)] = (byte)random.Next(256);
                return data;
            case 2:
                return data[..random.Next(data.Length)];
            default:
                int at = random.Next(data.Length);
                return [.. data[..at], (byte)random.Next(256), .. data[at..]];
        }
    }
}
