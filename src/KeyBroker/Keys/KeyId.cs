namespace Enclave.KeyBroker.Keys;

/// <summary>A key's full id, <c>{ownerThumbprint}/{name}</c>: the RFC 7638 base64url SHA-256 thumbprint of the
/// owner's P-256 JWK (exactly 43 characters of <c>[A-Za-z0-9_-]</c>), a slash, and a <see cref="KeyName"/>.
/// Owners name only the short name; the broker composes the id from the signer's key, so one owner can never
/// take another's name. Neither part may hold a dot, and the only slash is the separator, so an id cannot
/// traverse a path or alias another id.</summary>
public static class KeyId
{
    public const int ThumbprintLength = 43;

    public const int MaxLength = ThumbprintLength + 1 + KeyName.MaxLength;

    /// <summary>The full id of <paramref name="name"/> owned by the key with <paramref name="ownerThumbprint"/>.</summary>
    /// <exception cref="ArgumentException">Either part is not valid.</exception>
    public static string Compose(string ownerThumbprint, string name)
    {
        if (!IsThumbprint(ownerThumbprint))
        {
            throw new ArgumentException("The owner thumbprint is not a 43-character base64url SHA-256 thumbprint.", nameof(ownerThumbprint));
        }

        if (!KeyName.IsValid(name))
        {
            throw new ArgumentException("The key name is not valid.", nameof(name));
        }

        return ownerThumbprint + "/" + name;
    }

    /// <summary>Splits a full id; false for anything that <see cref="Compose"/> could not have produced.</summary>
    public static bool TryParse(string? id, out string ownerThumbprint, out string name)
    {
        ownerThumbprint = string.Empty;
        name = string.Empty;
        if (id is null || id.Length > MaxLength || id.Length < ThumbprintLength + 2 || id[ThumbprintLength] != '/')
        {
            return false;
        }

        string owner = id[..ThumbprintLength];
        string shortName = id[(ThumbprintLength + 1)..];
        if (!IsThumbprint(owner) || !KeyName.IsValid(shortName))
        {
            return false;
        }

        ownerThumbprint = owner;
        name = shortName;
        return true;
    }

    public static bool IsValid(string? id) => TryParse(id, out _, out _);

    private static bool IsThumbprint(string? text)
    {
        if (text is null || text.Length != ThumbprintLength)
        {
            return false;
        }

        foreach (char c in text)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c == '-' || c == '_'))
            {
                return false;
            }
        }

        // 43 base64url characters carry 258 bits; a SHA-256 thumbprint leaves the last two zero, so only one
        // spelling of each thumbprint is accepted.
        return "AEIMQUYcgkosw048".Contains(text[^1], StringComparison.Ordinal);
    }
}
