// NIST prime curves P-256 and P-384 (FIPS 186-4 appendix D.1.2.3 and D.1.2.4; SEC 2 secp256r1,
// secp384r1): field prime p, coefficient b (a = -3), group order n. Coordinates and scalars are
// 32 bytes (P-256) or 48 bytes (P-384), big-endian.

using System.Numerics;
using System.Security.Cryptography;

namespace Enclave.Crypto;

internal sealed class EcCurve
{
    public static readonly EcCurve P256 = new(
        "P-256",
        "ES256",
        32,
        ECCurve.NamedCurves.nistP256,
        HashAlgorithmName.SHA256,
        "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff",
        "5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b",
        "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");

    public static readonly EcCurve P384 = new(
        "P-384",
        "ES384",
        48,
        ECCurve.NamedCurves.nistP384,
        HashAlgorithmName.SHA384,
        "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffff",
        "b3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aef",
        "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973");

    private readonly BigInteger _p;
    private readonly BigInteger _b;
    private readonly byte[] _order;

    private EcCurve(
        string name,
        string signatureAlgorithm,
        int coordinateSize,
        ECCurve curve,
        HashAlgorithmName hash,
        string primeHex,
        string bHex,
        string orderHex)
    {
        Name = name;
        SignatureAlgorithm = signatureAlgorithm;
        CoordinateSize = coordinateSize;
        Curve = curve;
        Hash = hash;
        _p = ToInteger(Convert.FromHexString(primeHex));
        _b = ToInteger(Convert.FromHexString(bHex));
        _order = Convert.FromHexString(orderHex);
    }

    /// <summary>The JWK "crv" value.</summary>
    public string Name { get; }

    /// <summary>The JWS "alg" value of ECDSA with this curve and its hash.</summary>
    public string SignatureAlgorithm { get; }

    public int CoordinateSize { get; }

    public ECCurve Curve { get; }

    public HashAlgorithmName Hash { get; }

    public ReadOnlySpan<byte> Order => _order;

    public BigInteger Prime => _p;

    public BigInteger B => _b;

    public static EcCurve? FromName(string? crv) => crv switch
    {
        "P-256" => P256,
        "P-384" => P384,
        _ => null,
    };

    public static EcCurve? FromSignatureAlgorithm(string alg) => alg switch
    {
        "ES256" => P256,
        "ES384" => P384,
        _ => null,
    };

    /// <summary>Identifies a named curve by OID value, falling back to its friendly name.</summary>
    public static EcCurve? FromCurve(ECCurve curve)
    {
        if (!curve.IsNamed || curve.Oid is null)
        {
            return null;
        }

        string? oid = curve.Oid.Value;
        if (oid == "1.2.840.10045.3.1.7")
        {
            return P256;
        }

        if (oid == "1.3.132.0.34")
        {
            return P384;
        }

        return curve.Oid.FriendlyName switch
        {
            "nistP256" or "ECDSA_P256" or "ECDH_P256" or "secp256r1" or "prime256v1" => P256,
            "nistP384" or "ECDSA_P384" or "ECDH_P384" or "secp384r1" => P384,
            _ => null,
        };
    }

    /// <summary>True when (x, y) are canonical field elements satisfying y² = x³ − 3x + b (mod p).</summary>
    public bool IsOnCurve(ReadOnlySpan<byte> x, ReadOnlySpan<byte> y)
    {
        if (x.Length != CoordinateSize || y.Length != CoordinateSize)
        {
            return false;
        }

        BigInteger bx = ToInteger(x);
        BigInteger by = ToInteger(y);
        if (bx >= _p || by >= _p)
        {
            return false;
        }

        BigInteger left = by * by % _p;
        BigInteger right = ((bx * bx % _p * bx) - (3 * bx) + _b) % _p;
        if (right.Sign < 0)
        {
            right += _p;
        }

        return left == right;
    }

    /// <summary>True when the big-endian scalar is in [1, n − 1].</summary>
    public bool IsValidScalar(ReadOnlySpan<byte> scalar)
    {
        if (scalar.Length != _order.Length || !scalar.ContainsAnyExcept((byte)0))
        {
            return false;
        }

        return scalar.SequenceCompareTo(_order) < 0;
    }

    private static BigInteger ToInteger(ReadOnlySpan<byte> bigEndian) =>
        new(bigEndian, isUnsigned: true, isBigEndian: true);
}
