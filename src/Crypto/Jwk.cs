// JSON Web Key, public keys only (RFC 7517; RFC 7518 section 6.2 EC and 6.3 RSA parameters;
// RFC 7638 thumbprint). EC: P-256 (32-byte coordinates) and P-384 (48-byte coordinates), points
// checked to lie on the curve. RSA: modulus of at least 2048 and at most 8192 bits, no leading zero
// octets. Private members ("d", "p", "q", "dp", "dq", "qi", "oth", "k") are refused on input and never
// produced on output.

using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Enclave.Crypto;

/// <summary>A public EC (P-256, P-384) or RSA (2048..8192 bits) JSON Web Key. Immutable.</summary>
public sealed class Jwk
{
    public const int MinRsaModulusBits = 2048;
    public const int MaxRsaModulusBits = 8192;
    public const int MaxJsonLength = 64 * 1024;

    private const int MaxRsaExponentBytes = 8;
    private const int MaxKidLength = 1024;
    private const int MaxPooledVerifiers = 8;

    private static readonly string[] s_privateMembers = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

    private readonly byte[] _a;
    private readonly byte[] _b;

    // Imported verification keys, reused across verifications: .NET validates the point on import with a full scalar
    // multiplication, which costs more than the verification. A pool rather than one instance because an ECDsa
    // object is not documented as safe for concurrent use.
    private System.Collections.Concurrent.ConcurrentBag<ECDsa>? _verifiers;

    private Jwk(string kty, string? crv, byte[] a, byte[] b, string? kid, string? use)
    {
        Kty = kty;
        Crv = crv;
        _a = a;
        _b = b;
        Kid = kid;
        Use = use;
        if (kty == "EC")
        {
            X = Base64Url.Encode(a);
            Y = Base64Url.Encode(b);
        }
        else
        {
            N = Base64Url.Encode(a);
            E = Base64Url.Encode(b);
        }
    }

    /// <summary>"EC" or "RSA".</summary>
    public string Kty { get; }

    /// <summary>"P-256" or "P-384" for EC keys; null for RSA.</summary>
    public string? Crv { get; }

    public string? X { get; }

    public string? Y { get; }

    public string? N { get; }

    public string? E { get; }

    public string? Kid { get; }

    public string? Use { get; }

    public bool IsEc => Kty == "EC";

    public bool IsRsa => Kty == "RSA";

    internal EcCurve? EcCurve => EcCurve.FromName(Crv);

    /// <summary>Builds a public EC JWK from exported parameters; any private scalar is ignored.</summary>
    /// <exception cref="ArgumentException">The point is missing or its coordinates have the wrong size.</exception>
    /// <exception cref="JoseException">The curve is not P-256 or P-384, or the point is not on it
    /// (<see cref="JoseError.UnsupportedKey"/>).</exception>
    public static Jwk FromEcPublic(ECParameters parameters, string? kid = null, string? use = null)
    {
        EcCurve curve = EcCurve.FromCurve(parameters.Curve)
            ?? throw new JoseException(JoseError.UnsupportedKey, "Only the named curves P-256 and P-384 are supported.");
        byte[]? x = parameters.Q.X;
        byte[]? y = parameters.Q.Y;
        if (x is null || y is null)
        {
            throw new ArgumentException("The EC parameters carry no public point.", nameof(parameters));
        }

        if (x.Length != curve.CoordinateSize || y.Length != curve.CoordinateSize)
        {
            throw new ArgumentException(
                $"{curve.Name} coordinates must be {curve.CoordinateSize} bytes.", nameof(parameters));
        }

        if (!curve.IsOnCurve(x, y))
        {
            throw new JoseException(JoseError.UnsupportedKey, $"The point is not on {curve.Name}.");
        }

        CheckKidAndUse(kid, use);
        return new Jwk("EC", curve.Name, (byte[])x.Clone(), (byte[])y.Clone(), kid, use);
    }

    /// <summary>Builds a public RSA JWK; leading zero octets of modulus and exponent are removed.</summary>
    /// <exception cref="ArgumentException">Modulus or exponent is missing.</exception>
    /// <exception cref="JoseException">The modulus is outside 2048..8192 bits or the exponent is not an
    /// odd number above 1 (<see cref="JoseError.UnsupportedKey"/>).</exception>
    public static Jwk FromRsaPublic(RSAParameters parameters, string? kid = null, string? use = null)
    {
        if (parameters.Modulus is null || parameters.Exponent is null)
        {
            throw new ArgumentException("The RSA parameters carry no modulus or exponent.", nameof(parameters));
        }

        byte[] n = TrimLeadingZeros(parameters.Modulus);
        byte[] e = TrimLeadingZeros(parameters.Exponent);
        CheckRsa(n, e);
        CheckKidAndUse(kid, use);
        return new Jwk("RSA", null, n, e, kid, use);
    }

    /// <exception cref="JoseException"><see cref="JoseError.Malformed"/> for structural faults,
    /// <see cref="JoseError.UnsupportedKey"/> for unsupported types, curves or sizes, private members,
    /// and points not on the curve.</exception>
    public static Jwk Parse(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        if (json.Length > MaxJsonLength)
        {
            throw new JoseException(JoseError.Malformed, $"The JWK is longer than {MaxJsonLength} characters.");
        }

        using JsonDocument document = JoseJson.ParseDocument(json, "JWK");
        return ParseCore(document.RootElement);
    }

    /// <inheritdoc cref="Parse(string)"/>
    public static Jwk Parse(JsonElement element)
    {
        JoseJson.EnsureValidText(element, "JWK");
        JoseJson.EnsureNoDuplicates(element, "JWK", 0);
        return ParseCore(element);
    }

    /// <summary>The public members: the RFC 7638 required members in lexicographic order (EC: crv, kty, x, y;
    /// RSA: e, kty, n), then kid and use when set.</summary>
    public JsonObject ToJsonObject()
    {
        var obj = new JsonObject();
        if (IsEc)
        {
            obj["crv"] = Crv;
            obj["kty"] = Kty;
            obj["x"] = X;
            obj["y"] = Y;
        }
        else
        {
            obj["e"] = E;
            obj["kty"] = Kty;
            obj["n"] = N;
        }

        if (Kid is not null)
        {
            obj["kid"] = Kid;
        }

        if (Use is not null)
        {
            obj["use"] = Use;
        }

        return obj;
    }

    public string ToJson() => ToJsonObject().ToJsonString();

    /// <summary>RFC 7638 thumbprint: base64url SHA-256 of the required members in lexicographic order.</summary>
    public string ComputeThumbprint()
    {
        string canonical = IsEc
            ? $"{{\"crv\":\"{Crv}\",\"kty\":\"EC\",\"x\":\"{X}\",\"y\":\"{Y}\"}}"
            : $"{{\"e\":\"{E}\",\"kty\":\"RSA\",\"n\":\"{N}\"}}";
        return Base64Url.Encode(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)));
    }

    /// <summary>The public EC parameters (fresh arrays).</summary>
    /// <exception cref="JoseException">The key is not an EC key (<see cref="JoseError.UnsupportedKey"/>).</exception>
    public ECParameters ToEcParameters()
    {
        EcCurve curve = RequireEc();
        return new ECParameters
        {
            Curve = curve.Curve,
            Q = new ECPoint { X = (byte[])_a.Clone(), Y = (byte[])_b.Clone() },
        };
    }

    /// <summary>The public RSA parameters (fresh arrays).</summary>
    /// <exception cref="JoseException">The key is not an RSA key (<see cref="JoseError.UnsupportedKey"/>).</exception>
    public RSAParameters ToRsaParameters()
    {
        RequireRsa();
        return new RSAParameters { Modulus = (byte[])_a.Clone(), Exponent = (byte[])_b.Clone() };
    }

    public ECDsa CreateECDsa() => ECDsa.Create(ToEcParameters());

    /// <summary>Verifies an ECDSA signature (IEEE P1363 r‖s) with this key, reusing imported key objects.</summary>
    internal bool VerifyEcdsa(ReadOnlySpan<byte> data, ReadOnlySpan<byte> signature, HashAlgorithmName hash)
    {
        RequireEc();
        System.Collections.Concurrent.ConcurrentBag<ECDsa> pool =
            LazyInitializer.EnsureInitialized(ref _verifiers, () => new System.Collections.Concurrent.ConcurrentBag<ECDsa>());
        ECDsa key = pool.TryTake(out ECDsa? pooled) ? pooled : CreateECDsa();
        bool valid = key.VerifyData(data, signature, hash, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        if (pool.Count < MaxPooledVerifiers)
        {
            pool.Add(key);
        }
        else
        {
            key.Dispose();
        }

        return valid;
    }

    public ECDiffieHellman CreateECDiffieHellman() => ECDiffieHellman.Create(ToEcParameters());

    public RSA CreateRsa() => RSA.Create(ToRsaParameters());

    /// <summary>True when both describe the same public key (kid and use are not compared).</summary>
    public bool HasSameKey(Jwk other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return Kty == other.Kty
            && Crv == other.Crv
            && _a.AsSpan().SequenceEqual(other._a)
            && _b.AsSpan().SequenceEqual(other._b);
    }

    public override string ToString() => ToJson();

    internal int RsaModulusBytes => _a.Length;

    internal EcCurve RequireEc()
    {
        if (!IsEc)
        {
            throw new JoseException(JoseError.UnsupportedKey, $"The key type is {Kty}, not EC.");
        }

        return EcCurve!;
    }

    internal void RequireRsa()
    {
        if (!IsRsa)
        {
            throw new JoseException(JoseError.UnsupportedKey, $"The key type is {Kty}, not RSA.");
        }
    }

    private static Jwk ParseCore(JsonElement element)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw new JoseException(JoseError.Malformed, "The JWK is not a JSON object.");
        }

        foreach (string member in s_privateMembers)
        {
            if (element.TryGetProperty(member, out _))
            {
                throw new JoseException(
                    JoseError.UnsupportedKey,
                    $"The JWK carries the private member \"{member}\"; only public keys are accepted.");
            }
        }

        string kty = JoseJson.GetOptionalString(element, "kty", "JWK")
            ?? throw new JoseException(JoseError.Malformed, "The JWK has no \"kty\".");
        string? kid = JoseJson.GetOptionalString(element, "kid", "JWK");
        string? use = JoseJson.GetOptionalString(element, "use", "JWK");
        if (kid is not null && kid.Length > MaxKidLength)
        {
            throw new JoseException(JoseError.Malformed, $"The JWK \"kid\" is longer than {MaxKidLength} characters.");
        }

        switch (kty)
        {
            case "EC":
            {
                string crv = JoseJson.GetOptionalString(element, "crv", "JWK")
                    ?? throw new JoseException(JoseError.Malformed, "The EC JWK has no \"crv\".");
                EcCurve curve = EcCurve.FromName(crv)
                    ?? throw new JoseException(JoseError.UnsupportedKey, $"The curve \"{crv}\" is not supported.");
                byte[] x = RequiredBytes(element, "x");
                byte[] y = RequiredBytes(element, "y");
                if (x.Length != curve.CoordinateSize || y.Length != curve.CoordinateSize)
                {
                    throw new JoseException(
                        JoseError.Malformed,
                        $"{curve.Name} coordinates must be {curve.CoordinateSize} bytes.");
                }

                if (!curve.IsOnCurve(x, y))
                {
                    throw new JoseException(JoseError.UnsupportedKey, $"The point is not on {curve.Name}.");
                }

                return new Jwk("EC", curve.Name, x, y, kid, use);
            }

            case "RSA":
            {
                byte[] n = RequiredBytes(element, "n");
                byte[] e = RequiredBytes(element, "e");
                if (n.Length == 0 || e.Length == 0 || n[0] == 0 || e[0] == 0)
                {
                    throw new JoseException(
                        JoseError.Malformed,
                        "RSA \"n\" and \"e\" must be non-empty and have no leading zero octets.");
                }

                CheckRsa(n, e);
                return new Jwk("RSA", null, n, e, kid, use);
            }

            default:
                throw new JoseException(JoseError.UnsupportedKey, $"The key type \"{kty}\" is not supported.");
        }
    }

    private static byte[] RequiredBytes(JsonElement element, string name)
    {
        string text = JoseJson.GetOptionalString(element, name, "JWK")
            ?? throw new JoseException(JoseError.Malformed, $"The JWK has no \"{name}\".");
        return JoseJson.DecodeBase64Url(text, $"JWK member \"{name}\"");
    }

    private static void CheckRsa(byte[] n, byte[] e)
    {
        int bits = n.Length == 0 ? 0 : (n.Length * 8) - System.Numerics.BitOperations.LeadingZeroCount((uint)n[0]) + 24;
        if (bits < MinRsaModulusBits || bits > MaxRsaModulusBits)
        {
            throw new JoseException(
                JoseError.UnsupportedKey,
                $"The RSA modulus has {bits} bits; {MinRsaModulusBits} to {MaxRsaModulusBits} are accepted.");
        }

        bool exponentTooSmall = e.Length == 1 && e[0] <= 1;
        if (e.Length == 0 || e.Length > MaxRsaExponentBytes || (e[^1] & 1) == 0 || exponentTooSmall)
        {
            throw new JoseException(JoseError.UnsupportedKey, "The RSA exponent must be an odd number above 1.");
        }

        if ((n[^1] & 1) == 0)
        {
            throw new JoseException(JoseError.UnsupportedKey, "The RSA modulus must be odd.");
        }
    }

    private static void CheckKidAndUse(string? kid, string? use)
    {
        if (kid is not null && kid.Length > MaxKidLength)
        {
            throw new ArgumentException($"The kid is longer than {MaxKidLength} characters.", nameof(kid));
        }

        if (use is not null && use.Length == 0)
        {
            throw new ArgumentException("The use must not be empty.", nameof(use));
        }
    }

    private static byte[] TrimLeadingZeros(byte[] value)
    {
        int start = 0;
        while (start < value.Length - 1 && value[start] == 0)
        {
            start++;
        }

        return value.AsSpan(start).ToArray();
    }
}
