namespace Enclave.KeyBroker.Policy;

/// <summary>Region names as in docs/formats.md: 1 to 64 characters of <c>[a-z0-9-]</c>.</summary>
public static class RegionName
{
    public const int MaxLength = 64;

    public static bool IsValid(string? region)
    {
        if (string.IsNullOrEmpty(region) || region.Length > MaxLength)
        {
            return false;
        }

        foreach (char c in region)
        {
            if (!(char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-'))
            {
                return false;
            }
        }

        return true;
    }
}
