namespace Enclave.KeyBroker.Keys;

/// <summary>Key names: <c>^[a-z0-9][a-z0-9-]{0,62}$</c>. No dots, slashes, upper case or anything else
/// that could traverse a path or alias another name.</summary>
public static class KeyName
{
    public const int MaxLength = 63;

    public static bool IsValid(string? name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > MaxLength)
        {
            return false;
        }

        if (!(char.IsAsciiLetterLower(name[0]) || char.IsAsciiDigit(name[0])))
        {
            return false;
        }

        foreach (char c in name)
        {
            if (!(char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-'))
            {
                return false;
            }
        }

        return true;
    }
}
