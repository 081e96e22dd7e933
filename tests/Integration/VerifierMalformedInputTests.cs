// Attack 8 (verifier side) of the issue, with a real verifier process: every kind of malformed input on its HTTP
// JSON endpoint is a 400 with a JSON error code naming the problem (once a 500 from an unhandled exception), and
// malformed gRPC requests get a typed status with a reason code, never StatusCode.Unknown.
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Enclave.Protocol.Verifier;
using Enclave.Testing;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;

namespace Enclave.Integration.Tests;

/// <summary>One verifier process for all rows: starting one per row would cost seconds each.</summary>
public sealed class VerifierProcessFixture : IAsyncLifetime
{
    private readonly TempDirectory _directory = new("enclave-verifier-input");

    public ServerProcess Server { get; private set; } = null!;

    public HttpClient Http { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Server = await ServerProcess.StartAsync("serve", "verifier", "--data-dir", _directory.Path);
        Http = new HttpClient { BaseAddress = Server.Ready.Http };
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        await Server.DisposeAsync();
        _directory.Dispose();
    }
}

public sealed class VerifierMalformedInputTests(VerifierProcessFixture verifier) : IClassFixture<VerifierProcessFixture>
{
    /// <summary>Larger than the attest endpoint's bound (the largest evidence and runtime data in base64url).</summary>
    private const int OversizedBody = 1_500_000;

    public static TheoryData<string, string> JsonRows() => new()
    {
        { "duplicate member", """{"evidence":"AAAA","evidence":"AAAA","runtimeData":{"data":"e30"}}""" },
        { "duplicate member, escaped", """{"evidence":"AAAA","evid\u0065nce":"AAAA","runtimeData":{"data":"e30"}}""" },
        { "duplicate nested member", """{"evidence":"AAAA","runtimeData":{"data":"e30","data":"e30"}}""" },
        { "runtimeData an array", """{"evidence":"AAAA","runtimeData":["e30"]}""" },
        { "runtimeData a string", """{"evidence":"AAAA","runtimeData":"e30"}""" },
        { "runtimeData.data a number", """{"evidence":"AAAA","runtimeData":{"data":7}}""" },
        { "evidence an object", """{"evidence":{"a":"b"},"runtimeData":{"data":"e30"}}""" },
        { "evidence null", """{"evidence":null,"runtimeData":{"data":"e30"}}""" },
        { "body an array", """[{"evidence":"AAAA"}]""" },
        { "body a string", "\"evidence\"" },
        { "dataType JSON", """{"evidence":"AAAA","runtimeData":{"data":"e30","dataType":"JSON"}}""" },
        { "dataType a number", """{"evidence":"AAAA","runtimeData":{"data":"e30","dataType":1}}""" },
        { "too deep", """{"evidence":"AAAA","runtimeData":{"data":"e30","x":{"y":{"z":{}}}}}""" },
        { "too deep, arrays", new string('[', 100_000) + new string(']', 100_000) },
        { "bad base64 evidence", """{"evidence":"!!!!","runtimeData":{"data":"e30"}}""" },
        { "padded base64", """{"evidence":"AA==","runtimeData":{"data":"e30"}}""" },
        { "impossible base64 length", """{"evidence":"AAAAA","runtimeData":{"data":"e30"}}""" },
        { "bad base64 runtime data", """{"evidence":"AAAA","runtimeData":{"data":"e30+"}}""" },
        { "missing evidence", """{"runtimeData":{"data":"e30"}}""" },
        { "missing runtimeData", """{"evidence":"AAAA"}""" },
        { "missing runtimeData.data", """{"evidence":"AAAA","runtimeData":{}}""" },
        { "unknown member", """{"evidence":"AAAA","runtimeData":{"data":"e30"},"nonce":"AAAA"}""" },
        { "unknown nested member", """{"evidence":"AAAA","runtimeData":{"data":"e30","keys":[]}}""" },
        { "not JSON", "{" },
        { "empty body", string.Empty },
        { "trailing comma", """{"evidence":"AAAA","runtimeData":{"data":"e30"},}""" },
        { "comment", """{"evidence":"AAAA",/* x */"runtimeData":{"data":"e30"}}""" },
        { "unpaired surrogate", """{"evidence":"\ud800","runtimeData":{"data":"e30"}}""" },
        { "two documents", """{"evidence":"AAAA","runtimeData":{"data":"e30"}} {}""" },
    };

    private static string ExpectedCode(string row) => row switch
    {
        _ when row.StartsWith("duplicate", StringComparison.Ordinal) => "DuplicateMember",
        _ when row.StartsWith("too deep", StringComparison.Ordinal) => "TooDeep",
        _ when row.Contains("base64", StringComparison.Ordinal) => "InvalidBase64",
        _ when row.StartsWith("missing", StringComparison.Ordinal) => "MissingMember",
        _ when row.StartsWith("unknown", StringComparison.Ordinal) => "UnknownMember",
        "not JSON" or "empty body" or "trailing comma" or "comment" or "unpaired surrogate" or "two documents" => "MalformedJson",
        _ => "WrongType",
    };

    [Theory]
    [MemberData(nameof(JsonRows))]
    public async Task MalformedAttestBody_Is400WithItsCode(string row, string body)
    {
        using HttpResponseMessage response = await verifier.Http.PostAsync("/attest/sgx", new StringContent(body, Encoding.UTF8, "application/json"));

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, ExpectedCode(row));
    }

    [Fact]
    public async Task BodyThatIsNotUtf8_Is400MalformedJson()
    {
        byte[] body = [.. "{\"evidence\":\""u8, 0xff, 0xfe, .. "\",\"runtimeData\":{\"data\":\"e30\"}}"u8];

        using HttpResponseMessage response = await verifier.Http.PostAsync("/attest/sgx", new ByteArrayContent(body));

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "MalformedJson");
    }

    [Fact]
    public async Task OversizedBodyWithContentLength_Is400BodyTooLarge()
    {
        string body = "{\"evidence\":\"" + new string('A', OversizedBody) + "\",\"runtimeData\":{\"data\":\"e30\"}}";

        using HttpResponseMessage response = await verifier.Http.PostAsync("/attest/sgx", new StringContent(body, Encoding.UTF8, "application/json"));

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "BodyTooLarge");
    }

    [Fact]
    public async Task OversizedChunkedBody_Is400BodyTooLarge()
    {
        // No Content-Length: the verifier must stop reading once past its bound.
        using var content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes("{\"evidence\":\"" + new string('A', OversizedBody) + "\"}")));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/attest/sgx") { Content = content };
        request.Headers.TransferEncodingChunked = true;

        using HttpResponseMessage response = await verifier.Http.SendAsync(request);

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "BodyTooLarge");
    }

    [Fact]
    public async Task WellFormedBodyWithEvidenceThatDoesNotParse_IsStill400FromTheEvidenceCheck()
    {
        // The control row: the JSON checks let a sound body through to the evidence parser.
        using HttpResponseMessage response = await verifier.Http.PostAsync("/attest/sgx", new StringContent("""{"evidence":"AAAA","runtimeData":{"data":"e30","dataType":"Binary"}}""", Encoding.UTF8, "application/json"));

        JsonObject error = await AssertProblemAsync(response, HttpStatusCode.BadRequest, null);
        Assert.StartsWith("Evidence", error["code"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("SGX")]
    [InlineData("sgx%0Aforged-log-line")]
    [InlineData("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    public async Task UnknownOrOddFormatInThePath_Is400UnsupportedFormat_WithoutEchoingIt(string format)
    {
        using HttpResponseMessage response = await verifier.Http.PostAsync("/attest/" + format, new StringContent("""{"evidence":"AAAA","runtimeData":{"data":"e30"}}""", Encoding.UTF8, "application/json"));

        JsonObject error = await AssertProblemAsync(response, HttpStatusCode.BadRequest, "UnsupportedFormat");
        Assert.DoesNotContain("forged", error["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.DoesNotContain("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", error["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    public static TheoryData<string, string, string> GrpcEnrollRows() => new()
    {
        { "empty", string.Empty, "EnrollmentMalformed" },
        { "one part", "abc", "EnrollmentSignatureInvalid" },
        { "empty parts", "..", "EnrollmentSignatureInvalid" },
        { "bad base64 header", "!!!.e30.AAAA", "EnrollmentSignatureInvalid" },
        { "header not JSON", "AAAA.e30.AAAA", "EnrollmentSignatureInvalid" },
        { "header an array", "W10.e30.AAAA", "EnrollmentSignatureInvalid" },
        { "header with duplicate alg", "eyJhbGciOiJFUzI1NiIsImFsZyI6Im5vbmUifQ.e30.AAAA", "EnrollmentSignatureInvalid" },
        { "deep header", string.Concat(Enumerable.Repeat("W1tb", 2000)) + ".e30.AAAA", "EnrollmentSignatureInvalid" },
        { "kid a number", "eyJhbGciOiJFUzI1NiIsInR5cCI6ImVuY2xhdmUtZW5yb2xsbWVudCtqd3MiLCJraWQiOjd9.e30.AAAA", "EnrollmentSignatureInvalid" },
        { "too long", new string('a', 20_000), "EnrollmentMalformed" },
        { "not ASCII", "é.é.é", "EnrollmentSignatureInvalid" },
    };

    [Theory]
    [MemberData(nameof(GrpcEnrollRows))]
    public async Task MalformedEnrolmentOverGrpc_IsRefusedWithItsReasonCode(string row, string signedEnrollment, string expectedCode)
    {
        using GrpcChannel channel = GrpcChannel.ForAddress(verifier.Server.Ready.Grpc);
        var client = new Protocol.Verifier.AttestationVerifier.AttestationVerifierClient(channel);

        RpcException refused = await Assert.ThrowsAsync<RpcException>(async () => await client.EnrollNodeAsync(new EnrollNodeRequest { SignedEnrollment = signedEnrollment }));

        Assert.True(refused.StatusCode is StatusCode.InvalidArgument or StatusCode.PermissionDenied, $"{row}: {refused.StatusCode} {refused.Status.Detail}");
        Assert.Equal(expectedCode, refused.Trailers.GetValue("reason-code"));
    }

    public static TheoryData<string, string, int> GrpcAttestRows() => new()
    {
        { "blank format", " ", 4 },
        { "format with a newline", "sgx\nforged", 4 },
        { "format of 200 000 characters", new string('x', 200_000), 4 },
        { "empty sgx evidence", "sgx", 0 },
        { "one byte of tdx evidence", "tdx", 1 },
        { "garbage sev-snp evidence", "sev-snp", 1200 },
        { "garbage nitro evidence", "nitro", 64 },
        { "garbage maa evidence", "maa", 64 },
        { "evidence over the bound", "sgx", 1024 * 1024 + 1 },
    };

    [Theory]
    [MemberData(nameof(GrpcAttestRows))]
    public async Task MalformedAttestOverGrpc_IsRefusedWithAReasonCode(string row, string format, int evidenceLength)
    {
        using GrpcChannel channel = GrpcChannel.ForAddress(verifier.Server.Ready.Grpc);
        var client = new Protocol.Verifier.AttestationVerifier.AttestationVerifierClient(channel);
        byte[] evidence = new byte[evidenceLength];
        new Random(evidenceLength).NextBytes(evidence);

        RpcException refused = await Assert.ThrowsAsync<RpcException>(async () => await client.AttestAsync(new AttestRequest
        {
            EvidenceFormat = format,
            Evidence = ByteString.CopyFrom(evidence),
            RuntimeData = ByteString.CopyFromUtf8("{}"),
        }));

        // Random bytes may parse as far as a signature check (PermissionDenied); either way a typed refusal.
        Assert.True(refused.StatusCode is StatusCode.InvalidArgument or StatusCode.PermissionDenied, $"{row}: {refused.StatusCode} {refused.Status.Detail}");
        Assert.False(string.IsNullOrEmpty(refused.Trailers.GetValue("reason-code")), row);
        Assert.True(refused.Status.Detail.Length < 1024, $"{row}: the detail echoes the input ({refused.Status.Detail.Length} characters)");
    }

    private static async Task<JsonObject> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string? code)
    {
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"{(int)response.StatusCode}: {text}");
        JsonObject error = JsonNode.Parse(text)!["error"]!.AsObject();
        if (code is not null)
        {
            Assert.Equal(code, error["code"]!.GetValue<string>());
        }

        Assert.False(string.IsNullOrWhiteSpace(error["message"]!.GetValue<string>()));
        return error;
    }
}
