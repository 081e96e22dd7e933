using System.Collections.Concurrent;

namespace Enclave.KeyBroker.Policy;

/// <summary>Parsed release policies by their exact stored text, so a release does not parse the same policy
/// document again. A policy is immutable and keyed by its whole text, so an entry can never answer for another
/// document; documents that do not parse are not kept. Bounded: when full it starts over.</summary>
internal sealed class PolicyCache
{
    public const int Capacity = 1024;

    private readonly ConcurrentDictionary<string, ReleasePolicy> _parsed = new(StringComparer.Ordinal);

    public bool TryGet(string json, out ReleasePolicy? policy, out PolicyFormatException? error)
    {
        ArgumentNullException.ThrowIfNull(json);
        if (_parsed.TryGetValue(json, out policy))
        {
            error = null;
            return true;
        }

        if (!ReleasePolicy.TryParse(json, out policy, out error))
        {
            return false;
        }

        if (_parsed.Count >= Capacity)
        {
            _parsed.Clear();
        }

        _parsed.TryAdd(json, policy!);
        return true;
    }
}
