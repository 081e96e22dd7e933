// Public keys (RSA; EC on P-256 and P-384) built directly as OpenSSL key objects and handed to .NET's own
// OpenSSL-backed RSAOpenSsl, ECDsaOpenSsl and ECDiffieHellmanOpenSsl; and the sender's half of ECDH-ES (a fresh
// key pair and its agreement with the recipient's point) done in OpenSSL on plain EC_KEY objects. Every
// cryptographic operation (OAEP, ECDSA, ECDH, key generation) is still OpenSSL's; what differs is how the key
// objects come to exist and which checks run again around them.
//
// Why: with OpenSSL 3.0 (Debian 12), .NET
//   - imports an RSA public key by encoding it as SubjectPublicKeyInfo and decoding that with d2i_PUBKEY, which
//     runs OpenSSL 3.0's provider decoder framework: 170-310 µs on this machine, most of it in read locks that
//     all threads share, so it gets slower under load;
//   - imports an EC public key on a curve group built afresh from its parameters, then checks n·Q = O with a
//     full scalar multiplication: 165-240 µs;
//   - generates an EC key on a curve group built afresh: 110-150 µs;
//   - derives an ECDH secret through EVP_PKEY_derive, which exports both keys to OpenSSL's provider (two more
//     curve groups built from parameters) and checks the peer key again, n·Q = O included: the agreement costs
//     about three scalar multiplications instead of one.
// Built here: 2-3 µs, 5-9 µs, and the whole ECDH-ES agreement (key generation, agreement, public point) in
// about the time of the one multiplication it needs (measured side by side: `enclave bench broker` and the
// Crypto tests name the path in use).
//
// What is checked is unchanged in substance:
//   - an EC point reaches this class only from a Jwk, which has already required canonical coordinates
//     (each below p) satisfying the curve equation; this class checks that again itself, and
//     EC_POINT_set_affine_coordinates checks the equation once more. P-256 and P-384 have cofactor 1, so a
//     point on the curve has order n and the n·Q check adds nothing; ECDH_compute_key refuses a product at
//     infinity;
//   - an RSA key reaches it from a Jwk (2048..8192-bit modulus, exponent ≤ 8 bytes); OpenSSL's RSA encryption
//     checks n > e and the modulus size itself.
//
// The path is used only on Linux, when the libcrypto.so.3 this process resolves is the very OpenSSL version .NET
// itself loaded (SafeEvpPKeyHandle.OpenSslVersion), so key objects never cross between two libraries. Anything
// else, any failing native call, or ENCLAVE_OPENSSL_DIRECT_KEYS=0 in the environment (for side-by-side
// measurement), returns null and the caller uses .NET as before.
using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Security.Cryptography;

namespace Enclave.Crypto;

/// <summary>Direct construction of OpenSSL key objects for .NET (see the file comment).</summary>
public static class OpenSslKeys
{
    /// <summary>Environment variable that, set to 0, turns the direct path off.</summary>
    public const string SwitchVariable = "ENCLAVE_OPENSSL_DIRECT_KEYS";

    private const string LibCrypto = "libcrypto.so.3";
    private const int NidP256 = 415; // NID_X9_62_prime256v1
    private const int NidP384 = 715; // NID_secp384r1
    private const int MaxPooledGroups = 16;
    private const int PointConversionUncompressed = 4; // POINT_CONVERSION_UNCOMPRESSED: 04 || x || y

    // EC_GROUP objects, each used by one thread at a time: EC_KEY_set_group copies the group it is given, so a
    // group goes back to its pool as soon as the key has its copy. Building a group costs more than the copy.
    // A queue rather than a bag: ConcurrentBag.Count takes every thread's lock, on each key built.
    private static readonly ConcurrentQueue<IntPtr> s_p256Groups = new();
    private static readonly ConcurrentQueue<IntPtr> s_p384Groups = new();

    private static readonly Lazy<bool> s_available = new(() => Probe(Environment.GetEnvironmentVariable(SwitchVariable)));

    /// <summary>True when keys are built directly (see the file comment); false when .NET imports them.</summary>
    public static bool IsAvailable => s_available.Value;

    /// <summary>An RSA public key for modulus <paramref name="modulus"/> and exponent <paramref name="exponent"/>
    /// (big-endian, no leading zeros), or null when the direct path is unavailable or failed.</summary>
    internal static RSA? TryCreateRsaPublic(byte[] modulus, byte[] exponent)
    {
        if (!IsAvailable || !OperatingSystem.IsLinux())
        {
            return null;
        }

        IntPtr rsa = RSA_new();
        if (rsa == IntPtr.Zero)
        {
            return Failed<RSA>();
        }

        try
        {
            IntPtr n = BN_bin2bn(modulus, modulus.Length, IntPtr.Zero);
            IntPtr e = BN_bin2bn(exponent, exponent.Length, IntPtr.Zero);
            if (n == IntPtr.Zero || e == IntPtr.Zero || RSA_set0_key(rsa, n, e, IntPtr.Zero) != 1)
            {
                // RSA_set0_key takes the numbers only when it succeeds.
                BN_free(n);
                BN_free(e);
                return Failed<RSA>();
            }

            // The constructor takes its own reference (EVP_PKEY_set1_RSA); ours is released below.
            return new RSAOpenSsl(rsa);
        }
        finally
        {
            RSA_free(rsa);
        }
    }

    /// <summary>An ECDSA public key for the point (<paramref name="x"/>, <paramref name="y"/>), or null.</summary>
    internal static ECDsa? TryCreateECDsaPublic(EcCurve curve, byte[] x, byte[] y) =>
        OperatingSystem.IsLinux() ? Wrap(NewPublicEcKey(curve, x, y), EcdsaOf) : null;

    /// <summary>An ECDH public key for the point (<paramref name="x"/>, <paramref name="y"/>), or null.</summary>
    internal static ECDiffieHellman? TryCreateECDiffieHellmanPublic(EcCurve curve, byte[] x, byte[] y) =>
        OperatingSystem.IsLinux() ? Wrap(NewPublicEcKey(curve, x, y), EcdhOf) : null;

    /// <summary>ECDH between a fresh key pair on <paramref name="curve"/> (drawn from OpenSSL's generator) and
    /// the recipient's point (<paramref name="x"/>, <paramref name="y"/>): the shared secret Z (the x-coordinate of
    /// the product, <see cref="EcCurve.CoordinateSize"/> bytes) and the fresh key's public point, or null. The
    /// private key never leaves OpenSSL, which clears it when the key is freed here.</summary>
    internal static byte[]? TryAgreeEphemeral(EcCurve curve, byte[] x, byte[] y, out byte[] ephemeralX, out byte[] ephemeralY)
    {
        ephemeralX = [];
        ephemeralY = [];
        // As for an imported key: a non-canonical or off-curve point is refused before OpenSSL sees it.
        if (!IsAvailable || !OperatingSystem.IsLinux() || !curve.IsOnCurve(x, y))
        {
            return null;
        }

        ConcurrentQueue<IntPtr> pool = PoolOf(curve);
        IntPtr group = TakeGroup(curve, pool);
        if (group == IntPtr.Zero)
        {
            return Failed<byte[]>();
        }

        int size = curve.CoordinateSize;
        IntPtr key = IntPtr.Zero;
        IntPtr peer = IntPtr.Zero;
        byte[] secret = new byte[size];
        byte[] encoded = new byte[1 + (2 * size)];
        bool agreed = false;
        try
        {
            key = EC_KEY_new();
            peer = NewPoint(group, x, y);
            agreed = key != IntPtr.Zero && peer != IntPtr.Zero
                && EC_KEY_set_group(key, group) == 1
                && EC_KEY_generate_key(key) == 1
                // Z = x(d·Q): ECDH_compute_key refuses a product at infinity and pads x to the field size.
                && ECDH_compute_key(secret, (nuint)size, peer, key, IntPtr.Zero) == size
                && EC_POINT_point2oct(group, EC_KEY_get0_public_key(key), PointConversionUncompressed, encoded, (nuint)encoded.Length, IntPtr.Zero)
                    == (nuint)encoded.Length;
        }
        finally
        {
            ReturnGroup(pool, group);
            EC_POINT_free(peer);
            EC_KEY_free(key);
        }

        if (!agreed)
        {
            CryptographicOperations.ZeroMemory(secret);
            return Failed<byte[]>();
        }

        ephemeralX = encoded.AsSpan(1, size).ToArray();
        ephemeralY = encoded.AsSpan(1 + size, size).ToArray();
        return secret;
    }

    [SupportedOSPlatform("linux")]
    private static ECDsa EcdsaOf(IntPtr key) => new ECDsaOpenSsl(key);

    [SupportedOSPlatform("linux")]
    private static ECDiffieHellman EcdhOf(IntPtr key) => new ECDiffieHellmanOpenSsl(key);

    /// <summary>What <paramref name="wrap"/> makes of a new EC_KEY (null for zero). The .NET object takes its own
    /// reference (EC_KEY_up_ref); ours is released here.</summary>
    private static T? Wrap<T>(IntPtr key, Func<IntPtr, T?> wrap)
        where T : class
    {
        if (key == IntPtr.Zero)
        {
            return null;
        }

        try
        {
            return wrap(key);
        }
        finally
        {
            EC_KEY_free(key);
        }
    }

    /// <summary>A new EC_KEY holding the public point, or zero.</summary>
    private static IntPtr NewPublicEcKey(EcCurve curve, byte[] x, byte[] y)
    {
        // OpenSSL would reduce a coordinate of p or more without complaint: refuse any non-canonical point here,
        // whoever the caller is.
        if (!IsAvailable || !curve.IsOnCurve(x, y))
        {
            return IntPtr.Zero;
        }

        ConcurrentQueue<IntPtr> pool = PoolOf(curve);
        IntPtr group = TakeGroup(curve, pool);
        if (group == IntPtr.Zero)
        {
            return FailedKey();
        }

        IntPtr key = IntPtr.Zero;
        IntPtr point = IntPtr.Zero;
        bool built = false;
        try
        {
            key = EC_KEY_new();
            point = NewPoint(group, x, y);
            built = key != IntPtr.Zero && point != IntPtr.Zero
                && EC_KEY_set_group(key, group) == 1
                && EC_KEY_set_public_key(key, point) == 1;
        }
        finally
        {
            ReturnGroup(pool, group);
            EC_POINT_free(point);
            if (!built)
            {
                EC_KEY_free(key);
            }
        }

        return built ? key : FailedKey();
    }

    /// <summary>A new EC_POINT (x, y) on <paramref name="group"/>, or zero; EC_POINT_set_affine_coordinates
    /// refuses a point that is not on the curve.</summary>
    private static IntPtr NewPoint(IntPtr group, byte[] x, byte[] y)
    {
        IntPtr point = EC_POINT_new(group);
        IntPtr bx = BN_bin2bn(x, x.Length, IntPtr.Zero);
        IntPtr by = BN_bin2bn(y, y.Length, IntPtr.Zero);
        bool set = point != IntPtr.Zero && bx != IntPtr.Zero && by != IntPtr.Zero
            && EC_POINT_set_affine_coordinates(group, point, bx, by, IntPtr.Zero) == 1;
        BN_free(bx);
        BN_free(by);
        if (!set)
        {
            EC_POINT_free(point);
            return IntPtr.Zero;
        }

        return point;
    }

    private static ConcurrentQueue<IntPtr> PoolOf(EcCurve curve) => curve == EcCurve.P256 ? s_p256Groups : s_p384Groups;

    private static IntPtr TakeGroup(EcCurve curve, ConcurrentQueue<IntPtr> pool) =>
        pool.TryDequeue(out IntPtr group) ? group : EC_GROUP_new_by_curve_name(curve == EcCurve.P256 ? NidP256 : NidP384);

    private static void ReturnGroup(ConcurrentQueue<IntPtr> pool, IntPtr group)
    {
        if (pool.Count < MaxPooledGroups)
        {
            pool.Enqueue(group);
        }
        else
        {
            EC_GROUP_free(group);
        }
    }

    /// <summary>Whether the direct path can be used, given the value of <see cref="SwitchVariable"/>.</summary>
    internal static bool Probe(string? switchValue)
    {
        if (!OperatingSystem.IsLinux() || string.Equals(switchValue, "0", StringComparison.Ordinal))
        {
            return false;
        }

        try
        {
            long dotnet = SafeEvpPKeyHandle.OpenSslVersion;
            long resolved = (long)OpenSSL_version_num();
            // Major version 3 (0xMNN00PP0): the legacy RSA_* and EC_KEY_* functions used here exist and
            // .NET's OpenSSL-backed classes accept RSA* and EC_KEY* handles.
            return dotnet == resolved && (resolved >> 28) == 3;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException)
        {
            return false;
        }
    }

    // A failed native call leaves entries on this thread's OpenSSL error queue; they must not surface in .NET's
    // next error message, and the caller falls back to .NET's own import, which reports its own faults.
    private static T? Failed<T>()
        where T : class
    {
        ERR_clear_error();
        return null;
    }

    private static IntPtr FailedKey()
    {
        ERR_clear_error();
        return IntPtr.Zero;
    }

    // DllImport rather than LibraryImport: every signature is blittable or a pinned byte array, and this project
    // needs no unsafe code. Each function is part of OpenSSL 3's public API (the RSA_* and EC_KEY_* ones are
    // deprecated there but present, which Probe's version check relies on).
#pragma warning disable SYSLIB1054
    [DllImport(LibCrypto)]
    private static extern ulong OpenSSL_version_num();

    [DllImport(LibCrypto)]
    private static extern void ERR_clear_error();

    [DllImport(LibCrypto)]
    private static extern IntPtr BN_bin2bn(byte[] bytes, int length, IntPtr result);

    [DllImport(LibCrypto)]
    private static extern void BN_free(IntPtr number);

    [DllImport(LibCrypto)]
    private static extern IntPtr RSA_new();

    [DllImport(LibCrypto)]
    private static extern void RSA_free(IntPtr rsa);

    [DllImport(LibCrypto)]
    private static extern int RSA_set0_key(IntPtr rsa, IntPtr n, IntPtr e, IntPtr d);

    [DllImport(LibCrypto)]
    private static extern IntPtr EC_GROUP_new_by_curve_name(int nid);

    [DllImport(LibCrypto)]
    private static extern void EC_GROUP_free(IntPtr group);

    [DllImport(LibCrypto)]
    private static extern IntPtr EC_KEY_new();

    [DllImport(LibCrypto)]
    private static extern void EC_KEY_free(IntPtr key);

    [DllImport(LibCrypto)]
    private static extern int EC_KEY_set_group(IntPtr key, IntPtr group);

    [DllImport(LibCrypto)]
    private static extern int EC_KEY_set_public_key(IntPtr key, IntPtr point);

    [DllImport(LibCrypto)]
    private static extern int EC_KEY_generate_key(IntPtr key);

    [DllImport(LibCrypto)]
    private static extern IntPtr EC_KEY_get0_public_key(IntPtr key);

    [DllImport(LibCrypto)]
    private static extern int ECDH_compute_key(byte[] secret, nuint length, IntPtr peer, IntPtr key, IntPtr kdf);

    [DllImport(LibCrypto)]
    private static extern IntPtr EC_POINT_new(IntPtr group);

    [DllImport(LibCrypto)]
    private static extern nuint EC_POINT_point2oct(IntPtr group, IntPtr point, int form, byte[] buffer, nuint length, IntPtr context);

    [DllImport(LibCrypto)]
    private static extern void EC_POINT_free(IntPtr point);

    [DllImport(LibCrypto)]
    private static extern int EC_POINT_set_affine_coordinates(IntPtr group, IntPtr point, IntPtr x, IntPtr y, IntPtr context);
#pragma warning restore SYSLIB1054
}
