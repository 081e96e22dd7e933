// The cryptography one release cannot do without, on its own: the yardstick `scripts/bench.sh broker` sets the
// measured release rate against. One unit is what a release costs in public-key operations and the JWE, on
// both sides, as the bench's load clients and broker do them: the client signs a token (ES256, the load
// client's own claims), the broker verifies that signature with a key imported once (as the broker pools
// verifier keys), encrypts a 32-byte data key to the enclave key as a compact JWE (Jwe.Encrypt: ephemeral key,
// recipient key import and agreement, key wrap, AES-GCM; or RSA-OAEP-256) and signs a tree head (ES256 over a
// payload of the tree head's size). Everything else a release does (transport, JSON, policy, store, audit
// hashing) is left out, so releases per second over units per second, measured side by side on the same
// cores, says how close the broker comes to what this machine's cryptography allows.
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Enclave.Crypto;

namespace Enclave.Bench;

internal static class ReleaseCryptoBound
{
    /// <summary>Units per second over <paramref name="duration"/>, one dedicated thread per processor.</summary>
    public static double Measure(BrokerLoadClient load, TimeSpan duration, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(load);
        int threads = Environment.ProcessorCount;
        long units = 0;
        var clock = Stopwatch.StartNew();
        var workers = new Thread[threads];
        Exception? failure = null;
        for (int t = 0; t < threads; t++)
        {
            workers[t] = new Thread(() =>
            {
                try
                {
                    using var unit = new Unit(load);
                    while (clock.Elapsed < duration && !cancellationToken.IsCancellationRequested)
                    {
                        unit.Run();
                        Interlocked.Increment(ref units);
                    }
                }
                catch (Exception e)
                {
                    Interlocked.CompareExchange(ref failure, e, null);
                }
            })
            { IsBackground = true, Name = "bench-crypto-bound" };
            workers[t].Start();
        }

        foreach (Thread worker in workers)
        {
            worker.Join();
        }

        if (failure is not null)
        {
            throw new InvalidOperationException("the cryptography yardstick failed", failure);
        }

        return units / clock.Elapsed.TotalSeconds;
    }

    /// <summary>One release's cryptography; keys are per thread, made once.</summary>
    private sealed class Unit : IDisposable
    {
        private readonly BrokerLoadClient _load;
        private readonly ECDsa _verifierPublic;
        private readonly ECDsa _auditKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        private readonly byte[] _dataKey = RandomNumberGenerator.GetBytes(32);
        private readonly string _auditKid;
        private readonly string _nonce = Base64Url.Encode(RandomNumberGenerator.GetBytes(32));
        private long _treeSize = 1;

        public Unit(BrokerLoadClient load)
        {
            _load = load;
            _verifierPublic = load.VerifierJwk.CreateECDsa();
            _auditKid = Jwk.FromEcPublic(_auditKey.ExportParameters(false)).ComputeThumbprint();
        }

        public void Run()
        {
            string token = _load.Token(_nonce, out _);
            int last = token.LastIndexOf('.');
            byte[] signature = Base64Url.Decode(token.AsSpan(last + 1));
            if (!_verifierPublic.VerifyData(Encoding.ASCII.GetBytes(token, 0, last), signature, HashAlgorithmName.SHA256))
            {
                throw new CryptographicException("a token signature did not verify");
            }

            _ = Jwe.Encrypt(_dataKey, _load.EncryptionJwk);
            byte[] root = SHA256.HashData(signature);
            byte[] payload = Encoding.UTF8.GetBytes(
                $"{{\"treeSize\":{_treeSize++},\"rootHash\":\"{Convert.ToHexStringLower(root)}\",\"timestamp\":{DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()}}}");
            _ = Jws.Sign(payload, _auditKey, _auditKid, KeyBroker.Audit.SignedTreeHead.JwsType);
        }

        public void Dispose()
        {
            _verifierPublic.Dispose();
            _auditKey.Dispose();
        }
    }
}
