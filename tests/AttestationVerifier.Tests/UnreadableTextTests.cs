using System.Text;
using Enclave.AttestationVerifier.Appraisal;
using Enclave.AttestationVerifier.Nodes;

namespace Enclave.AttestationVerifier.Tests;

/// <summary>Runtime data and enrolment payloads holding escaped unpaired surrogates (found by fuzzing): refused with
/// a reason, never an InvalidOperationException.</summary>
public sealed class UnreadableTextTests
{
    [Theory]
    [InlineData("{\"nonce\":\"\\ud800\",\"keys\":[]}")]
    [InlineData("{\"nonce\":\"n\",\"round\":\"\\udc00\",\"keys\":[]}")]
    [InlineData("{\"nonce\":\"n\",\"keys\":[{\"kty\":\"EC\",\"kid\":\"\\ud800\"}]}")]
    public void RuntimeData_WithUnpairedSurrogate_IsRefused(string json)
    {
        bool parsed = RuntimeData.TryParse(Encoding.ASCII.GetBytes(json), out RuntimeData? runtimeData, out string error);

        Assert.False(parsed);
        Assert.Null(runtimeData);
        Assert.Contains("surrogate", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\"platformId\":\"\\ud800\",\"region\":\"eu-west\",\"iat\":1}")]
    [InlineData("{\"platformId\":\"00\",\"region\":\"\\udfff\",\"iat\":1}")]
    public void EnrollmentPayload_WithUnpairedSurrogate_IsMalformed(string json)
    {
        bool read = EnrollmentRequest.TryReadPayload(Encoding.ASCII.GetBytes(json), out _, out EnrollmentError error, out string message);

        Assert.False(read);
        Assert.Equal(EnrollmentError.Malformed, error);
        Assert.Contains("surrogate", message, StringComparison.Ordinal);
    }
}
