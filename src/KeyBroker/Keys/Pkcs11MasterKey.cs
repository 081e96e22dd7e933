// Master key in a PKCS#11 token (PKCS#11 v2.40; SoftHSM2 in tests): an AES-256 secret key object that is
// sensitive and non-extractable, found by its label or generated on first use (CKM_AES_KEY_GEN, token
// object, private, encrypt/decrypt only). Data keys are encrypted inside the token with CKM_AES_GCM
// (NIST SP 800-38D): a random 96-bit IV per wrap, 128-bit tag, additional authenticated data
// = format byte | the caller's associated data (KeyStore binds key name, version, owner, enabled flag and
// policy). Wrapped form: format 0x02 | IV (12) | ciphertext (data key length) | tag (16).
using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Net.Pkcs11Interop.Common;
using Net.Pkcs11Interop.HighLevelAPI;

namespace Enclave.KeyBroker.Keys;

/// <summary>Where the master key lives: the PKCS#11 module, the token and the key object's label.</summary>
public sealed record Pkcs11MasterKeyOptions
{
    public const string DefaultKeyLabel = "enclave-keybroker-master";

    /// <summary>Path of the PKCS#11 module (e.g. /usr/lib/softhsm/libsofthsm2.so).</summary>
    public required string ModulePath { get; init; }

    /// <summary>Label of the token that holds (or will hold) the master key.</summary>
    public required string TokenLabel { get; init; }

    /// <summary>The token's user PIN.</summary>
    public required string Pin { get; init; }

    /// <summary>Label of the AES key object.</summary>
    public string KeyLabel { get; init; } = DefaultKeyLabel;

    /// <summary>Generate the key when no object has <see cref="KeyLabel"/>; when false a missing key is an error.</summary>
    public bool CreateIfMissing { get; init; } = true;
}

public sealed class Pkcs11MasterKey : IMasterKey, IDisposable
{
    public const int KeySize = 32;

    private const byte FormatVersion = 2;
    private const int IvSize = 12;
    private const int TagSize = 16;
    private const int Overhead = 1 + IvSize + TagSize;
    private const int MaxIdleSessions = 16;

    private readonly Pkcs11InteropFactories _factories = new();
    private readonly IPkcs11Library _library;
    private readonly ISlot _slot;
    private readonly IObjectHandle _key;
    private readonly ConcurrentBag<ISession> _sessions = [];
    private bool _disposed;

    static Pkcs11MasterKey()
    {
        // Pkcs11Interop binds dlopen from "libdl"; current glibc ships it only as libdl.so.2 (and in libc.so.6)
        // unless development packages are installed, so resolve that name explicitly.
        try
        {
            NativeLibrary.SetDllImportResolver(typeof(Pkcs11InteropFactories).Assembly, (name, assembly, path) =>
                name == "libdl" && OperatingSystem.IsLinux()
                    && (NativeLibrary.TryLoad("libdl.so.2", out IntPtr handle) || NativeLibrary.TryLoad("libc.so.6", out handle))
                    ? handle
                    : IntPtr.Zero);
        }
        catch (InvalidOperationException)
        {
            // The host application already installed a resolver for Pkcs11Interop.
        }
    }

    private Pkcs11MasterKey(IPkcs11Library library, ISlot slot, ISession first, IObjectHandle key)
    {
        _library = library;
        _slot = slot;
        _key = key;
        _sessions.Add(first);
    }

    /// <summary>Label of the key object in use.</summary>
    public required string KeyLabel { get; init; }

    /// <summary>Loads the module, logs in to the token and finds (or creates) the master key.</summary>
    /// <exception cref="MasterKeyException">The module does not load, the token is absent, the PIN is
    /// refused, the token lacks AES-GCM, or the key object is missing, duplicated or not a sensitive,
    /// non-extractable AES-256 key.</exception>
    public static Pkcs11MasterKey Open(Pkcs11MasterKeyOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrWhiteSpace(options.ModulePath);
        ArgumentException.ThrowIfNullOrWhiteSpace(options.TokenLabel);
        ArgumentException.ThrowIfNullOrWhiteSpace(options.KeyLabel);
        ArgumentNullException.ThrowIfNull(options.Pin);
        if (!File.Exists(options.ModulePath))
        {
            throw new MasterKeyException(MasterKeyError.ModuleNotLoaded, $"the PKCS#11 module {options.ModulePath} does not exist");
        }

        var factories = new Pkcs11InteropFactories();
        IPkcs11Library library;
        try
        {
            library = factories.Pkcs11LibraryFactory.LoadPkcs11Library(factories, options.ModulePath, AppType.MultiThreaded);
        }
        catch (Exception e) when (e is Pkcs11Exception or LibraryArchitectureException or UnmanagedException or DllNotFoundException or BadImageFormatException)
        {
            throw new MasterKeyException(MasterKeyError.ModuleNotLoaded, $"the PKCS#11 module {options.ModulePath} does not load: {e.Message}", e);
        }

        ISession? session = null;
        try
        {
            ISlot slot = library.GetSlotList(SlotsType.WithTokenPresent)
                .Where(s => string.Equals(s.GetTokenInfo().Label.Trim(), options.TokenLabel, StringComparison.Ordinal))
                .ToList() switch
            {
                [ISlot only] => only,
                [] => throw new MasterKeyException(MasterKeyError.TokenNotFound, $"no PKCS#11 token is labelled \"{options.TokenLabel}\""),
                _ => throw new MasterKeyException(MasterKeyError.TokenNotFound, $"more than one PKCS#11 token is labelled \"{options.TokenLabel}\""),
            };
            if (!slot.GetMechanismList().Contains(CKM.CKM_AES_GCM))
            {
                throw new MasterKeyException(MasterKeyError.MechanismNotSupported, $"the token \"{options.TokenLabel}\" does not offer CKM_AES_GCM");
            }

            session = slot.OpenSession(SessionType.ReadWrite);
            try
            {
                session.Login(CKU.CKU_USER, options.Pin);
            }
            catch (Pkcs11Exception e) when (e.RV == CKR.CKR_USER_ALREADY_LOGGED_IN)
            {
                // Login state is per application and token; another session already holds it.
            }
            catch (Pkcs11Exception e) when (e.RV is CKR.CKR_PIN_INCORRECT or CKR.CKR_PIN_INVALID or CKR.CKR_PIN_LEN_RANGE or CKR.CKR_PIN_LOCKED or CKR.CKR_PIN_EXPIRED)
            {
                throw new MasterKeyException(MasterKeyError.LoginFailed, $"the token \"{options.TokenLabel}\" refused the PIN ({e.RV})", e);
            }

            IObjectHandle key = FindOrCreateKey(factories, session, options);
            return new Pkcs11MasterKey(library, slot, session, key) { KeyLabel = options.KeyLabel };
        }
        catch (Exception e)
        {
            session?.Dispose();
            library.Dispose();
            if (e is Pkcs11Exception p)
            {
                throw new MasterKeyException(MasterKeyError.DeviceError, $"the PKCS#11 token failed ({p.RV} in {p.Method})", p);
            }

            throw;
        }
    }

    public byte[] Wrap(ReadOnlySpan<byte> dataKey, ReadOnlySpan<byte> associatedData)
    {
        if (dataKey.IsEmpty)
        {
            throw new ArgumentException("The data key is empty.", nameof(dataKey));
        }

        byte[] iv = RandomNumberGenerator.GetBytes(IvSize);
        byte[] plaintext = dataKey.ToArray();
        try
        {
            using IMechanism mechanism = Gcm(iv, associatedData);
            byte[] sealedKey = Run("C_Encrypt", session => session.Encrypt(mechanism, _key, plaintext));
            if (sealedKey.Length != dataKey.Length + TagSize)
            {
                throw new MasterKeyException(MasterKeyError.DeviceError, $"the token returned {sealedKey.Length} bytes for AES-GCM of {dataKey.Length}");
            }

            byte[] wrapped = new byte[Overhead + dataKey.Length];
            wrapped[0] = FormatVersion;
            iv.CopyTo(wrapped, 1);
            sealedKey.CopyTo(wrapped, 1 + IvSize);
            return wrapped;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plaintext);
        }
    }

    /// <exception cref="MasterKeyException">The token failed for another reason than authentication.</exception>
    public bool TryUnwrap(ReadOnlySpan<byte> wrappedKey, ReadOnlySpan<byte> associatedData, Span<byte> destination)
    {
        CryptographicOperations.ZeroMemory(destination);
        if (wrappedKey.Length != Overhead + destination.Length || wrappedKey[0] != FormatVersion)
        {
            return false;
        }

        byte[] iv = wrappedKey.Slice(1, IvSize).ToArray();
        byte[] sealedKey = wrappedKey[(1 + IvSize)..].ToArray();
        byte[]? plaintext = null;
        try
        {
            using IMechanism mechanism = Gcm(iv, associatedData);
            plaintext = Run("C_Decrypt", session => session.Decrypt(mechanism, _key, sealedKey));
        }
        catch (MasterKeyException e) when (e.InnerException is Pkcs11Exception p && IsAuthenticationFailure(p.RV))
        {
            return false;
        }

        try
        {
            if (plaintext.Length != destination.Length)
            {
                return false;
            }

            plaintext.CopyTo(destination);
            return true;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plaintext);
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        while (_sessions.TryTake(out ISession? session))
        {
            session.Dispose();
        }

        _library.Dispose();
    }

    private static IObjectHandle FindOrCreateKey(Pkcs11InteropFactories factories, ISession session, Pkcs11MasterKeyOptions options)
    {
        Net.Pkcs11Interop.HighLevelAPI.Factories.IObjectAttributeFactory attributes = factories.ObjectAttributeFactory;
        List<IObjectHandle> found = session.FindAllObjects(
        [
            attributes.Create(CKA.CKA_CLASS, CKO.CKO_SECRET_KEY),
            attributes.Create(CKA.CKA_LABEL, options.KeyLabel),
        ]);
        if (found.Count > 1)
        {
            throw new MasterKeyException(MasterKeyError.KeyInvalid, $"{found.Count} secret keys are labelled \"{options.KeyLabel}\"; the master key must be unique");
        }

        if (found.Count == 0)
        {
            if (!options.CreateIfMissing)
            {
                throw new MasterKeyException(MasterKeyError.KeyNotFound, $"no secret key is labelled \"{options.KeyLabel}\" in the token");
            }

            return session.GenerateKey(factories.MechanismFactory.Create(CKM.CKM_AES_KEY_GEN),
            [
                attributes.Create(CKA.CKA_CLASS, CKO.CKO_SECRET_KEY),
                attributes.Create(CKA.CKA_KEY_TYPE, CKK.CKK_AES),
                attributes.Create(CKA.CKA_VALUE_LEN, (ulong)KeySize),
                attributes.Create(CKA.CKA_LABEL, options.KeyLabel),
                attributes.Create(CKA.CKA_ID, SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(options.KeyLabel))[..16]),
                attributes.Create(CKA.CKA_TOKEN, true),
                attributes.Create(CKA.CKA_PRIVATE, true),
                attributes.Create(CKA.CKA_SENSITIVE, true),
                attributes.Create(CKA.CKA_EXTRACTABLE, false),
                attributes.Create(CKA.CKA_ENCRYPT, true),
                attributes.Create(CKA.CKA_DECRYPT, true),
                attributes.Create(CKA.CKA_WRAP, false),
                attributes.Create(CKA.CKA_UNWRAP, false),
                attributes.Create(CKA.CKA_SIGN, false),
                attributes.Create(CKA.CKA_VERIFY, false),
                attributes.Create(CKA.CKA_DERIVE, false),
                attributes.Create(CKA.CKA_MODIFIABLE, false),
            ]);
        }

        IObjectHandle key = found[0];
        List<IObjectAttribute> values = session.GetAttributeValue(key,
            [CKA.CKA_KEY_TYPE, CKA.CKA_VALUE_LEN, CKA.CKA_SENSITIVE, CKA.CKA_EXTRACTABLE, CKA.CKA_ENCRYPT, CKA.CKA_DECRYPT]);
        if (values[0].GetValueAsUlong() != (ulong)CKK.CKK_AES || values[1].GetValueAsUlong() != KeySize)
        {
            throw new MasterKeyException(MasterKeyError.KeyInvalid, $"the key \"{options.KeyLabel}\" is not an AES-256 key");
        }

        if (!values[2].GetValueAsBool() || values[3].GetValueAsBool())
        {
            throw new MasterKeyException(MasterKeyError.KeyInvalid, $"the key \"{options.KeyLabel}\" is extractable or not sensitive; a master key must never leave the token");
        }

        if (!values[4].GetValueAsBool() || !values[5].GetValueAsBool())
        {
            throw new MasterKeyException(MasterKeyError.KeyInvalid, $"the key \"{options.KeyLabel}\" does not allow encrypt and decrypt");
        }

        return key;
    }

    // PKCS#11 v3 names CKR_AEAD_DECRYPT_FAILED; v2.40 tokens use CKR_ENCRYPTED_DATA_INVALID, and SoftHSM2 2.6
    // reports a GCM tag mismatch as CKR_GENERAL_ERROR. All of them mean "does not unwrap", which fails closed.
    private static bool IsAuthenticationFailure(CKR rv) =>
        rv is CKR.CKR_ENCRYPTED_DATA_INVALID or CKR.CKR_ENCRYPTED_DATA_LEN_RANGE or CKR.CKR_GENERAL_ERROR || (ulong)rv == 0x00000360;

    private IMechanism Gcm(byte[] iv, ReadOnlySpan<byte> associatedData)
    {
        byte[] aad = new byte[1 + associatedData.Length];
        aad[0] = FormatVersion;
        associatedData.CopyTo(aad.AsSpan(1));
        return _factories.MechanismFactory.Create(
            CKM.CKM_AES_GCM,
            _factories.MechanismParamsFactory.CreateCkGcmParams(iv, IvSize * 8, aad, TagSize * 8));
    }

    /// <summary>The Pkcs11Interop factories (mechanisms, attributes) of this token connection.</summary>
    internal Pkcs11InteropFactories Factories => _factories;

    /// <summary>A new read-write session on the logged-in token, for creating token objects (the caller disposes it).</summary>
    internal ISession OpenReadWriteSession()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _slot.OpenSession(SessionType.ReadWrite);
    }

    /// <summary>Whether the token offers <paramref name="mechanism"/>.</summary>
    internal bool Offers(CKM mechanism) => _slot.GetMechanismList().Contains(mechanism);

    /// <summary>Runs one operation on a pooled session (PKCS#11 sessions are not shared between threads); a
    /// <see cref="Pkcs11Exception"/> becomes a <see cref="MasterKeyException"/> (DeviceError) naming it. Other keys in
    /// the same token (<see cref="Pkcs11BrokerKeys"/>) share this connection and its pool.</summary>
    internal T Run<T>(string operation, Func<ISession, T> action)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ISession session;
        try
        {
            session = _sessions.TryTake(out ISession? pooled) ? pooled : _slot.OpenSession(SessionType.ReadOnly);
        }
        catch (Pkcs11Exception e)
        {
            throw new MasterKeyException(MasterKeyError.DeviceError, $"the PKCS#11 token opened no session ({e.RV})", e);
        }

        bool keep = true;
        try
        {
            return action(session);
        }
        catch (Pkcs11Exception e)
        {
            keep = IsAuthenticationFailure(e.RV);
            throw new MasterKeyException(MasterKeyError.DeviceError, $"the PKCS#11 token failed {operation} ({e.RV})", e);
        }
        finally
        {
            if (keep && !_disposed && _sessions.Count < MaxIdleSessions)
            {
                _sessions.Add(session);
            }
            else
            {
                session.Dispose();
            }
        }
    }
}
