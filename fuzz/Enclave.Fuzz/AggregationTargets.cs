using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Enclave.Aggregator.Data;
using Enclave.Crypto;
using Enclave.Protocol.Round;
using Enclave.SecureAggregation;
using Google.Protobuf;

namespace Enclave.Fuzz;

/// <summary>Targets for secure-aggregation messages, model vectors and the aggregator's data files.</summary>
internal static class AggregationTargets
{
    public const int ModelLength = 64;

    private static readonly QuantizationOptions s_quantization = new(clip: 1.0, scaleBits: 16);
    private static readonly Lazy<string> s_idxPath = new(CreateScratchFile);

    private static readonly JwtValidationParameters s_tokenParameters = new()
    {
        ValidIssuers = [FuzzKeys.Issuer],
        KeyResolver = kid => kid is null ? null : FuzzKeys.VerifierKeys.Find(kid),
        Time = FuzzKeys.Time,
    };

    private static readonly ParticipantPolicy s_participantPolicy = new(
        ["00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"], ["eu-west", "us-east"], AllowSimulated: true);

    /// <summary>
    /// A signed secure-aggregation message as the coordinator receives it: the SignedMessage envelope, its
    /// MaskedInput or UnmaskReveal payload, the signature under the sender's attested key, and the masked sum.
    /// </summary>
    public static void SignedMaskedInput(ReadOnlySpan<byte> input)
    {
        try
        {
            SignedMessage signed = SignedMessage.Parser.ParseFrom(input);
            if (signed.Kind is not ("masked-input" or "unmask"))
            {
                return;
            }

            bool genuine = MessageSignature.Verify(FuzzKeys.TokenSigner, signed.Kind, signed.Payload.Span, signed.Signature.Span);
            var sum = new MaskedSum(ModelLength);
            if (signed.Kind == "masked-input")
            {
                MaskedInput masked = MaskedInput.Parser.ParseFrom(signed.Payload);
                if (genuine && masked.Masked.Count == ModelLength && !string.IsNullOrEmpty(masked.TokenId))
                {
                    sum.Add(masked.TokenId, masked.Masked.ToArray());
                }
            }
            else
            {
                UnmaskReveal reveal = UnmaskReveal.Parser.ParseFrom(signed.Payload);
                if (genuine && reveal.SelfMaskSeed.Length == MaskExpander.SeedLength && !string.IsNullOrEmpty(reveal.TokenId))
                {
                    sum.Add(reveal.TokenId, new uint[ModelLength]);
                    sum.RemoveSelfMask(reveal.TokenId, reveal.SelfMaskSeed.Span);
                    _ = sum.Result;
                }
            }
        }
        catch (InvalidProtocolBufferException)
        {
        }
        catch (ArgumentOutOfRangeException)
        {
            // What Google.Protobuf throws for some overflowing nested lengths; the coordinator and the enclave
            // treat it as a malformed message.
        }
    }

    /// <summary>Fuzzed claims signed by the trusted verifier, as a peer's advertisement token.</summary>
    public static void ParticipantTokenClaims(ReadOnlySpan<byte> input)
    {
        string token = FuzzKeys.SignCompact(FuzzKeys.TokenSigner, FuzzKeys.TokenKeyId, "JWT", input);
        try
        {
            AttestedParticipant participant = AttestedParticipant.FromToken(token, s_tokenParameters, s_participantPolicy);
            using var own = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
            participant.DerivePairwiseSeed(own, "round-1", "own-token");
        }
        catch (ParticipantRejectedException)
        {
        }
    }

    /// <summary>A float32 model vector as the host hands it to the enclave, quantised and dequantised.</summary>
    public static void ModelVector(ReadOnlySpan<byte> input)
    {
        float[] values = MemoryMarshal.Cast<byte, float>(input[..(input.Length / 4 * 4)]).ToArray();
        if (values.Any(float.IsNaN))
        {
            return;
        }

        uint[] quantised = new uint[values.Length];
        Quantizer.Quantize(values, quantised, s_quantization);
        Quantizer.Dequantize(quantised, new float[values.Length], s_quantization, divisor: 3);
    }

    public static void IdxImages(ReadOnlySpan<byte> input)
    {
        File.WriteAllBytes(s_idxPath.Value, input.ToArray());
        try
        {
            IdxReader.ReadImages(s_idxPath.Value);
        }
        catch (IdxFormatException)
        {
        }
    }

    public static void IdxLabels(ReadOnlySpan<byte> input)
    {
        File.WriteAllBytes(s_idxPath.Value, input.ToArray());
        try
        {
            IdxReader.ReadLabels(s_idxPath.Value);
        }
        catch (IdxFormatException)
        {
        }
    }

    private static string CreateScratchFile()
    {
        string path = Path.Combine(Path.GetTempPath(), $"enclave-fuzz-{Environment.ProcessId}.idx");
        AppDomain.CurrentDomain.ProcessExit += (_, _) => File.Delete(path);
        return path;
    }
}
