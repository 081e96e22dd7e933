// A digest of the set of participants a client masked against, so the coordinator can check that every client
// saw the same cohort.
using System.Security.Cryptography;
using System.Text;

namespace Enclave.SecureAggregation;

public static class ParticipantDigest
{
    public static byte[] Compute(IEnumerable<string> participantIds)
    {
        ArgumentNullException.ThrowIfNull(participantIds);
        string joined = string.Join('\n', participantIds.OrderBy(p => p, StringComparer.Ordinal));
        return SHA256.HashData(Encoding.UTF8.GetBytes(joined));
    }
}
