using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Enclave.Aggregator.Data;
using Enclave.Crypto;
using Enclave.Protocol.Round;
using Enclave.SecureAggregation;
using Enclave.SecureAggregation.Staged;
using Google.Protobuf;

namespace Enclave.Fuzz;

/// <summary>Targets for secure-aggregation messages, model vectors and the aggregator's data files.</summary>
internal static class AggregationTargets
{
    public const int ModelLength = 64;

    private static readonly RingQuantizer s_quantizer = new(clip: 1.0, scaleBits: 16, ringBits: 32, cohortSize: 3);
    private static readonly byte[] s_roundingSeed = [.. Enumerable.Range(0, 32).Select(i => (byte)i)];
    private static readonly Lazy<string> s_idxPath = new(CreateScratchFile);

    private static readonly JwtValidationParameters s_tokenParameters = new()
    {
        ValidIssuers = [FuzzKeys.Issuer],
        KeyResolver = kid => kid is null ? null : FuzzKeys.VerifierKeys.Find(kid),
        Time = FuzzKeys.Time,
    };

    private static readonly ParticipantPolicy s_participantPolicy = new(
        ["00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"], ["eu-west", "us-east"], AllowSimulated: true);

    /// <summary>A staged secure-aggregation message (ENCSAGG1) as the aggregator or an enclave receives it.</summary>
    public static void SecAggMessage(ReadOnlySpan<byte> input)
    {
        try
        {
            SecAggCodec.Decode(input);
        }
        catch (SecAggException)
        {
        }
    }

    /// <summary>Fuzzed claims signed by the trusted verifier, as a peer's advertisement token.</summary>
    public static void ParticipantTokenClaims(ReadOnlySpan<byte> input)
    {
        string token = FuzzKeys.SignCompact(FuzzKeys.TokenSigner, FuzzKeys.TokenKeyId, "JWT", input);
        try
        {
            AttestedParticipant participant = AttestedParticipant.FromToken(token, s_tokenParameters, s_participantPolicy);
            using ECDsa verification = participant.SigningKey.CreateECDsa();
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
        s_quantizer.Quantize(values, quantised, s_roundingSeed);
        s_quantizer.Dequantize(quantised, new float[values.Length], divisor: 3);
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
