using System.Buffers.Binary;
using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using Enclave.AttestationVerifier.Appraisal;
using Enclave.Crypto;
using Enclave.EnclaveApp.Data;
using Enclave.Training;
using Enclave.Protocol.Boundary;
using Enclave.Protocol.Round;
using Enclave.SecureAggregation;
using Google.Protobuf;

namespace Enclave.Fuzz;

/// <summary>Small valid inputs for each target, built with the product's own writers and the harness keys.</summary>
internal static class Seeds
{
    private const string Measurement = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    private const string PlatformId = "8f4e2a1c9b7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f";
    private const string Nonce = "q2PxS3o1Qd7lA0m9ZkYhJtWbV4uNcR8eIfGsL6yTzEw";

    public static IEnumerable<Seed> SimulatedEvidence()
    {
        byte[] runtimeData = RuntimeDataBytes();
        yield return new("evidence", Evidence(SHA512.HashData(runtimeData), debug: false));
        yield return new("evidence-debug", Evidence(SHA512.HashData(runtimeData), debug: true));
    }

    public static IEnumerable<Seed> RuntimeData()
    {
        yield return new("runtime-data", RuntimeDataBytes());
        yield return new("runtime-data-no-secagg", Utf8(new JsonObject
        {
            ["keys"] = new JsonArray(PublicJwkObject(FuzzKeys.EcdhRecipient.ExportParameters(false), "enc"), PublicJwkObject(FuzzKeys.TokenSigner.ExportParameters(false), "sig")),
            ["nonce"] = Nonce,
        }));
    }

    public static IEnumerable<Seed> EnrollmentPayload()
    {
        yield return new("enroll", EnrollmentPayloadBytes(replace: false));
        yield return new("enroll-replace", EnrollmentPayloadBytes(replace: true));
    }

    public static IEnumerable<Seed> EnrollmentRequest()
    {
        foreach (Seed payload in EnrollmentPayload())
        {
            string jws = FuzzKeys.SignCompact(
                FuzzKeys.RequestSigner, FuzzKeys.RequestSignerJwk.ComputeThumbprint(), Enclave.AttestationVerifier.Nodes.EnrollmentRequest.MediaType, payload.Bytes);
            yield return new(payload.Name + "-jws", Encoding.ASCII.GetBytes(jws));
        }
    }

    public static IEnumerable<Seed> Endorsements()
    {
        (X509Certificate2 root, X509Certificate2 platform, _) = VerifierTargets.SimulatedPki();
        yield return new("root.der", root.RawData);
        yield return new("chain.pem", Encoding.ASCII.GetBytes(platform.ExportCertificatePem() + "\n" + root.ExportCertificatePem() + "\n"));
        var crl = new CertificateRevocationListBuilder();
        crl.AddEntry([0x01, 0x02, 0x03, 0x04], FuzzKeys.Now.AddDays(-1));
        byte[] der = crl.Build(root, 1, FuzzKeys.Now.AddDays(30), HashAlgorithmName.SHA256, thisUpdate: FuzzKeys.Now.AddDays(-1));
        yield return new("crl.der", der);
        yield return new("crl.pem", Encoding.ASCII.GetBytes(PemEncoding.WriteString("X509 CRL", der)));
        yield return new("collateral.json", "{\"tcbInfo\":{\"id\":\"SGX\",\"version\":3},\"signature\":\"00\"}"u8.ToArray());
    }

    public static IEnumerable<Seed> AppraisalPolicy()
    {
        yield return new("default", Encoding.UTF8.GetBytes(Enclave.AttestationVerifier.Appraisal.AppraisalPolicy.Default.ToJson()));
        var policy = new AppraisalPolicy
        {
            AllowDebug = false,
            MinimumSvn = 2,
            AllowedTcbStatuses = ["UpToDate", "SWHardeningNeeded"],
            AllowedMeasurements = [Measurement],
            AllowedSigners = [Measurement],
            AllowedFormats = ["simulated"],
        };
        yield return new("strict", Encoding.UTF8.GetBytes(policy.ToJson()));
    }

    public static IEnumerable<Seed> ReleasePolicy()
    {
        yield return new("enclave-policy", Encoding.UTF8.GetBytes(BrokerTargets.SamplePolicy));
    }

    public static IEnumerable<Seed> ReleasePolicyEvaluate()
    {
        yield return new("policy-and-claims", [.. Encoding.UTF8.GetBytes(BrokerTargets.SamplePolicy), 0, .. ClaimsBytes()]);
    }

    public static IEnumerable<Seed> BrokerToken()
    {
        yield return new("token", Encoding.ASCII.GetBytes(FuzzKeys.SignCompact(FuzzKeys.TokenSigner, FuzzKeys.TokenKeyId, "JWT", ClaimsBytes())));
    }

    public static IEnumerable<Seed> TokenClaims()
    {
        yield return new("claims", ClaimsBytes());
        JsonObject claims = Claims();
        claims.Remove("nonce");
        claims["x-ms-sgx-is-debuggable"] = true;
        yield return new("claims-runtime-nonce-debug", Utf8(claims));
    }

    public static IEnumerable<Seed> OwnerRequest()
    {
        JsonObject Request(string op) => new()
        {
            ["op"] = op,
            ["name"] = "fuzz-key",
            ["iat"] = FuzzKeys.Now.ToUnixTimeSeconds(),
            ["jti"] = "0123456789abcdef-request",
            ["aud"] = "broker-import-key-id",
        };
        JsonObject register = Request("register");
        register["policy"] = JsonNode.Parse(BrokerTargets.SamplePolicy);
        register["key"] = Jwe.Encrypt(FuzzKeys.DataKey, PublicJwk(FuzzKeys.EcdhRecipient.ExportParameters(false), "enc"));
        yield return new("register", Utf8(register));
        JsonObject update = Request("updatePolicy");
        update["policy"] = JsonNode.Parse(BrokerTargets.SamplePolicy);
        yield return new("update-policy", Utf8(update));
        JsonObject enable = Request("setEnabled");
        enable["enabled"] = false;
        yield return new("set-enabled", Utf8(enable));
    }

    public static IEnumerable<Seed> Jws()
    {
        yield return new("es256", Encoding.ASCII.GetBytes(FuzzKeys.SignCompact(FuzzKeys.TokenSigner, FuzzKeys.TokenKeyId, "JWT", ClaimsBytes())));
        yield return new("es256-bytes", Encoding.ASCII.GetBytes(FuzzKeys.SignCompact(FuzzKeys.TokenSigner, FuzzKeys.TokenKeyId, null, [0, 1, 2, 3])));
    }

    public static IEnumerable<Seed> JweEcdh()
    {
        Jwk recipient = PublicJwk(FuzzKeys.EcdhRecipient.ExportParameters(false), "enc");
        yield return new("data-key", Encoding.ASCII.GetBytes(Jwe.Encrypt(FuzzKeys.DataKey, recipient)));
    }

    public static IEnumerable<Seed> JweRsa()
    {
        Jwk recipient = Enclave.Crypto.Jwk.FromRsaPublic(FuzzKeys.RsaRecipient.ExportParameters(false), "fuzz-rsa", "enc");
        yield return new("data-key", Encoding.ASCII.GetBytes(Jwe.Encrypt(FuzzKeys.DataKey, recipient)));
    }

    public static IEnumerable<Seed> Jwk()
    {
        yield return new("ec", Encoding.UTF8.GetBytes(FuzzKeys.TokenSignerJwk.ToJson()));
        yield return new("rsa", Encoding.UTF8.GetBytes(Enclave.Crypto.Jwk.FromRsaPublic(FuzzKeys.RsaRecipient.ExportParameters(false), "fuzz-rsa", "enc").ToJson()));
    }

    public static IEnumerable<Seed> JwkSet()
    {
        var set = new JwkSet([FuzzKeys.TokenSignerJwk, Enclave.Crypto.Jwk.FromRsaPublic(FuzzKeys.RsaRecipient.ExportParameters(false), "fuzz-rsa", "enc")]);
        yield return new("jwks", Encoding.UTF8.GetBytes(set.ToJson()));
    }

    public static IEnumerable<Seed> EncryptedDataset()
    {
        foreach (int length in (int[])[0, 100, 4096 + 10])
        {
            byte[] plaintext = new byte[length];
            for (int i = 0; i < length; i++)
            {
                plaintext[i] = (byte)i;
            }

            using var output = new MemoryStream();
            Enclave.Crypto.EncryptedDataset.Encrypt(new MemoryStream(plaintext), length, output, FuzzKeys.DataKey, CryptoTargets.DatasetId, CryptoTargets.Region, chunkSize: 4096);
            yield return new($"dataset-{length}", output.ToArray());
        }
    }

    public static IEnumerable<Seed> ExampleSet()
    {
        yield return new("two-examples", Enclave.Training.ExampleSet.Encode([3, 7], [1, 2, 3, 4, 5, 6, 7, 8], 2, 2));
        yield return new("empty", Enclave.Training.ExampleSet.Encode([], [], 28, 28));
    }

    public static IEnumerable<Seed> EnclaveToHostFrames()
    {
        yield return new("log-and-ocall", Frames(
            new EnclaveToHost { Log = new LogLine { Level = "info", Message = "ready" } },
            new EnclaveToHost { Ocall = new Ocall { CallId = 1, ReadData = new ReadDataCall { DatasetId = "d", Offset = 0, Length = 4096 } } },
            new EnclaveToHost { Configured = new Configured { Measurement = Measurement, PlatformId = PlatformId, Simulated = true } }));
    }

    public static IEnumerable<Seed> HostRequestFrames()
    {
        byte[] model = MemoryMarshal.AsBytes(new float[] { 0.5f, -1, 2, 0 }.AsSpan()).ToArray();
        var specification = new RoundSpecification
        {
            Type = "enclave-round-spec/1",
            RoundId = "round-1",
            Round = 1,
            GlobalModelSha256 = ByteString.CopyFrom(System.Security.Cryptography.SHA256.HashData(model)),
            // A plan-shaped JWS (the signature is not valid: the seed drives parsing, not the signature check).
            Plan = "eyJhbGciOiJFUzI1NiIsImtpZCI6Im93bmVyIiwidHlwIjoiZW5jbGF2ZS1wbGFuK2p3cyJ9.e30.AAAA",
            PlanOwnerKey = "{\"kty\":\"EC\",\"crv\":\"P-256\"}",
            Secagg = new SecAggSpecification { Quantization = new QuantizationConfig { Clip = 8, ScaleBits = 20 }, RingBits = 32, MinimumCohort = 3 },
            Cohort = { new CohortMember { Region = "eu-west", DatasetId = CryptoTargets.DatasetId, KeyId = "fuzz-owner/fuzz-key", MaxSamples = 1000 } },
            IssuedAt = 1_800_000_000,
            ExpiresAt = 1_800_000_600,
        };
        yield return new("configure-prepare", Frames(
            new HostToEnclave { Configure = new Configure { RegionHint = "eu-west" } },
            new HostToEnclave
            {
                Prepare = new PrepareRequest
                {
                    Specification = new CoordinatorSigned { Payload = specification.ToByteString(), Signature = ByteString.CopyFrom(new byte[64]), KeyId = "coordinator" },
                    GlobalModel = ByteString.CopyFrom(model),
                },
            }));
        yield return new("probe", Frames(
            new HostToEnclave { ProbeRelease = new ProbeReleaseRequest { KeyName = "fuzz-key" } }));
    }

    public static IEnumerable<Seed> OcallResultFrames()
    {
        OcallResult[] results =
        [
            new() { CallId = 1, Nonce = Nonce },
            new() { CallId = 1, Token = "a.b.c" },
            new() { CallId = 1, ReleasedKey = new ReleasedKey { WrappedKey = "a.b.c.d.e", KeyVersion = "1", ReceiptId = "r" } },
            new() { CallId = 1, Data = ByteString.CopyFrom(new byte[64]) },
        ];
        for (int i = 0; i < results.Length; i++)
        {
            yield return new($"ocall-{i}", [(byte)i, .. Frames(new HostToEnclave { OcallResult = results[i] })]);
        }

        yield return new("ocall-failure", [2, .. Frames(new HostToEnclave { OcallResult = new OcallResult { CallId = 1, Failure = new Failure { Code = "Denied", Message = "no" } } })]);
    }

    public static IEnumerable<Seed> SecAggMessage()
    {
        for (byte stage = 0; stage < 10; stage++)
        {
            yield return new($"stage-{stage}", [.. "ENCSAGG1"u8, stage, 0, 0, 0, 1, .. new byte[24]]);
        }
    }

    public static IEnumerable<Seed> ModelVector()
    {
        float[] values = new float[AggregationTargets.ModelLength];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = (i - 32) / 16f;
        }

        values[1] = float.PositiveInfinity;
        values[2] = float.Epsilon;
        yield return new("vector", MemoryMarshal.AsBytes(values.AsSpan()).ToArray());
    }

    public static IEnumerable<Seed> IdxImages()
    {
        byte[] images = new byte[16 + (2 * 3 * 3)];
        BinaryPrimitives.WriteUInt32BigEndian(images, 0x803);
        BinaryPrimitives.WriteUInt32BigEndian(images.AsSpan(4), 2);
        BinaryPrimitives.WriteUInt32BigEndian(images.AsSpan(8), 3);
        BinaryPrimitives.WriteUInt32BigEndian(images.AsSpan(12), 3);
        yield return new("images", images);
        yield return new("images.gz", Gzip(images));
    }

    public static IEnumerable<Seed> IdxLabels()
    {
        byte[] labels = [0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 9];
        yield return new("labels", labels);
        yield return new("labels.gz", Gzip(labels));
    }

    private static byte[] Evidence(ReadOnlySpan<byte> reportData, bool debug)
    {
        (_, X509Certificate2 platform, ECDsa key) = VerifierTargets.SimulatedPki();
        byte[] certificate = platform.RawData;
        byte[] evidence = new byte[148 + certificate.Length + 64];
        Span<byte> span = evidence;
        "ENCSIMQ1"u8.CopyTo(span);
        BinaryPrimitives.WriteUInt16LittleEndian(span[8..], 1);
        BinaryPrimitives.WriteUInt16LittleEndian(span[10..], debug ? (ushort)1 : (ushort)0);
        BinaryPrimitives.WriteUInt16LittleEndian(span[12..], 1);
        BinaryPrimitives.WriteUInt16LittleEndian(span[14..], 1);
        Convert.FromHexString(Measurement).CopyTo(span[16..]);
        Convert.FromHexString(Measurement).CopyTo(span[48..]);
        reportData.CopyTo(span[80..]);
        BinaryPrimitives.WriteUInt32LittleEndian(span[144..], (uint)certificate.Length);
        certificate.CopyTo(span[148..]);
        int signed = 148 + certificate.Length;
        key.SignData(span[..signed], span[signed..], HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        return evidence;
    }

    private static byte[] RuntimeDataBytes() => Utf8(RuntimeDataJson());

    private static JsonObject RuntimeDataJson() => new()
    {
        ["keys"] = new JsonArray(PublicJwkObject(FuzzKeys.EcdhRecipient.ExportParameters(false), "enc"), PublicJwkObject(FuzzKeys.TokenSigner.ExportParameters(false), "sig")),
        ["nonce"] = Nonce,
        ["round"] = "round-1",
        ["secagg"] = PublicJwk(FuzzKeys.RequestSigner.ExportParameters(false), null).ToJsonObject(),
    };

    private static byte[] EnrollmentPayloadBytes(bool replace)
    {
        var payload = new JsonObject { ["platformId"] = PlatformId, ["region"] = "eu-west", ["iat"] = FuzzKeys.Now.ToUnixTimeSeconds() };
        if (replace)
        {
            payload["replace"] = true;
        }

        return Utf8(payload);
    }

    private static JsonObject Claims()
    {
        long now = FuzzKeys.Now.ToUnixTimeSeconds();
        return new JsonObject
        {
            ["iss"] = FuzzKeys.Issuer,
            ["aud"] = FuzzKeys.Audience,
            ["iat"] = now,
            ["nbf"] = now,
            ["exp"] = now + 600,
            ["jti"] = "token-1",
            ["nonce"] = Nonce,
            ["x-ms-attestation-type"] = "simulated",
            ["x-enclave-simulated"] = true,
            ["x-ms-sgx-mrenclave"] = Measurement,
            ["x-ms-sgx-mrsigner"] = Measurement,
            ["x-ms-sgx-svn"] = 1,
            ["x-ms-sgx-product-id"] = 1,
            ["x-ms-sgx-is-debuggable"] = false,
            ["x-enclave-region"] = "eu-west",
            ["x-ms-runtime"] = RuntimeDataJson(),
        };
    }

    private static byte[] ClaimsBytes() => Utf8(Claims());

    private static JsonObject PublicJwkObject(ECParameters parameters, string? use) => PublicJwk(parameters, use).ToJsonObject();

    private static Jwk PublicJwk(ECParameters parameters, string? use) =>
        Enclave.Crypto.Jwk.FromEcPublic(new ECParameters { Curve = parameters.Curve, Q = parameters.Q }, null, use);

    private static byte[] Frames(params IMessage[] messages)
    {
        using var stream = new MemoryStream();
        foreach (IMessage message in messages)
        {
            Enclave.Protocol.BoundaryFrames.WriteAsync(stream, message).GetAwaiter().GetResult();
        }

        return stream.ToArray();
    }

    private static byte[] Signed(string kind, byte[] payload) => new SignedMessage
    {
        Kind = kind,
        Payload = ByteString.CopyFrom(payload),
        Signature = ByteString.CopyFrom(MessageSignature.Sign(FuzzKeys.TokenSigner, kind, payload)),
    }.ToByteArray();

    private static byte[] Gzip(byte[] data)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Optimal, leaveOpen: true))
        {
            gzip.Write(data);
        }

        return output.ToArray();
    }

    private static byte[] Utf8(JsonNode node) => Encoding.UTF8.GetBytes(node.ToJsonString());
}
