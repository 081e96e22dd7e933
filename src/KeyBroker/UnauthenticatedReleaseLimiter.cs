// Bounds what unauthenticated callers can make the broker write. A release whose token does not validate costs
// the caller nothing, and each used to become a durable signed audit entry, so one client could grow the log
// without limit. Per caller (IP address; IPv6 by /64, since one host commonly holds a whole /64) and fixed
// interval, the first Allowance such denials are audited one by one as before; the rest are only counted and
// become one ReleasesThrottled entry for that caller and interval once the interval is over. Releases whose
// token validates never come here, so an honest enclave behind the same address as an attacker is never
// blocked or merged.
using System.Net;
using System.Net.Sockets;

namespace Enclave.KeyBroker;

internal sealed class UnauthenticatedReleaseLimiter
{
    /// <summary>Callers tracked at most; beyond that, new callers share one bucket, so memory stays bounded and a
    /// flood of addresses is still throttled.</summary>
    public const int MaxCallers = 10_000;

    /// <summary>The bucket of callers that do not fit in the table, and of calls without a known address.</summary>
    public const string OverflowCaller = "(other)";

    private readonly object _lock = new();
    private readonly Dictionary<string, Bucket> _buckets = new(StringComparer.Ordinal);
    private readonly List<ThrottleSummary> _ended = [];
    private readonly int _allowance;
    private readonly TimeSpan _interval;
    private DateTimeOffset _nextEnd = DateTimeOffset.MaxValue;

    public UnauthenticatedReleaseLimiter(int allowance, TimeSpan interval)
    {
        _allowance = allowance;
        _interval = interval;
    }

    /// <summary>True when this unauthenticated denial may be audited on its own; false when it is only counted
    /// toward the caller's summary for the current interval.</summary>
    public bool TryAdmit(string? caller, ReasonCode reason, DateTimeOffset now)
    {
        string key = Normalize(caller);
        lock (_lock)
        {
            if (_buckets.TryGetValue(key, out Bucket? bucket) && now >= bucket.Start + _interval)
            {
                End(bucket);
                bucket = null;
            }

            if (bucket is null && _buckets.Count >= MaxCallers)
            {
                key = OverflowCaller;
                if (_buckets.TryGetValue(key, out bucket) && now >= bucket.Start + _interval)
                {
                    End(bucket);
                    bucket = null;
                }
            }

            if (bucket is null)
            {
                bucket = new Bucket(key, now);
                _buckets[key] = bucket;
                if (bucket.Start + _interval < _nextEnd)
                {
                    _nextEnd = bucket.Start + _interval;
                }
            }

            if (bucket.Admitted < _allowance)
            {
                bucket.Admitted++;
                return true;
            }

            bucket.Refused++;
            bucket.Reasons[reason] = bucket.Reasons.GetValueOrDefault(reason) + 1;
            return false;
        }
    }

    /// <summary>Removes every bucket whose interval has ended by <paramref name="now"/> (all of them with
    /// <paramref name="all"/>) and returns a summary for each that refused anything.</summary>
    public IReadOnlyList<ThrottleSummary> TakeEnded(DateTimeOffset now, bool all = false)
    {
        lock (_lock)
        {
            if (!all && now < _nextEnd && _ended.Count == 0)
            {
                return [];
            }

            DateTimeOffset nextEnd = DateTimeOffset.MaxValue;
            foreach (Bucket bucket in _buckets.Values.ToArray())
            {
                DateTimeOffset end = bucket.Start + _interval;
                if (all || now >= end)
                {
                    End(bucket);
                }
                else if (end < nextEnd)
                {
                    nextEnd = end;
                }
            }

            _nextEnd = nextEnd;
            ThrottleSummary[] ended = [.. _ended];
            _ended.Clear();
            return ended;
        }
    }

    /// <summary>The caller's bucket name: the IP address as the transport saw it, IPv6 reduced to its /64.</summary>
    internal static string Normalize(string? caller)
    {
        if (caller is null || !IPAddress.TryParse(caller, out IPAddress? address))
        {
            return OverflowCaller;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            byte[] bytes = address.GetAddressBytes();
            Array.Clear(bytes, 8, 8);
            return new IPAddress(bytes) + "/64";
        }

        return address.ToString();
    }

    /// <summary>Drops an ended bucket, keeping its summary for <see cref="TakeEnded"/> when it refused anything.</summary>
    private void End(Bucket bucket)
    {
        _buckets.Remove(bucket.Caller);
        if (bucket.Refused > 0)
        {
            _ended.Add(new ThrottleSummary(bucket.Caller, bucket.Start, bucket.Start + _interval, bucket.Refused, new Dictionary<ReasonCode, long>(bucket.Reasons)));
        }
    }

    private sealed class Bucket(string caller, DateTimeOffset start)
    {
        public string Caller { get; } = caller;

        public DateTimeOffset Start { get; } = start;

        public int Admitted { get; set; }

        public long Refused { get; set; }

        public Dictionary<ReasonCode, long> Reasons { get; } = [];
    }
}

/// <summary>How many unauthenticated releases of one caller were refused in one interval, and why.</summary>
internal sealed record ThrottleSummary(
    string Caller, DateTimeOffset From, DateTimeOffset To, long Refused, IReadOnlyDictionary<ReasonCode, long> Reasons);
