// Open Enclave SDK attester API (include/openenclave/attestation/attester.h, sgx/evidence.h):
//   oe_result_t oe_attester_initialize(void);
//   oe_result_t oe_get_evidence(const oe_uuid_t* format_id, uint32_t flags,
//       const void* custom_claims_buffer, size_t custom_claims_buffer_size,
//       const void* optional_parameters, size_t optional_parameters_size,
//       uint8_t** evidence_buffer, size_t* evidence_buffer_size,
//       uint8_t** endorsements_buffer, size_t* endorsements_buffer_size);
//   oe_result_t oe_free_evidence(uint8_t* evidence_buffer);
// OE_OK is 0. OE_FORMAT_UUID_SGX_ECDSA is a3a21e87-1b4d-4014-b70a-a125d2fbcd8c (16 bytes in that order). With this
// format the SGX report data is SHA-256 of the custom claims buffer, here the 64-byte report data.
using System.Runtime.InteropServices;

namespace Enclave.EnclaveApp.Attestation;

/// <summary>
/// SGX ECDSA evidence from the Open Enclave runtime the enclave is hosted in, loaded at run time with
/// <see cref="NativeLibrary.TryLoad(string, out nint)"/>. Unavailable (never throws on probing) when no candidate
/// library loads or it lacks the attester exports.
/// </summary>
public sealed class OpenEnclaveSgxProvider : IEvidenceProvider, IDisposable
{
    public const string FormatName = "sgx-oe";
    private const int OeOk = 0;

    /// <summary>Library names tried in order (the enclave runtime's libraries as the OE SDK names them).</summary>
    public static IReadOnlyList<string> DefaultLibraries { get; } = ["liboehost.so", "oehost", "liboeenclave.so", "oeenclave"];

    /// <summary>OE_FORMAT_UUID_SGX_ECDSA.</summary>
    public static ReadOnlySpan<byte> SgxEcdsaFormatId =>
        [0xa3, 0xa2, 0x1e, 0x87, 0x1b, 0x4d, 0x40, 0x14, 0xb7, 0x0a, 0xa1, 0x25, 0xd2, 0xfb, 0xcd, 0x8c];

    private readonly IReadOnlyList<string> _libraries;
    private readonly Lazy<Native?> _native;
    private readonly Lock _lock = new();
    private bool _initialized;

    public OpenEnclaveSgxProvider(IReadOnlyList<string>? libraries = null)
    {
        _libraries = libraries ?? DefaultLibraries;
        _native = new Lazy<Native?>(Load);
    }

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate int AttesterInitialize();

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate int GetEvidenceFunction(
        nint formatId, uint flags, nint customClaims, nuint customClaimsSize, nint optionalParameters, nuint optionalParametersSize,
        out nint evidence, out nuint evidenceSize, nint endorsements, nint endorsementsSize);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate int FreeEvidenceFunction(nint evidence);

    public string Format => FormatName;

    public bool IsAvailable => _native.Value is not null;

    /// <summary>The library that loaded, or null.</summary>
    public string? LoadedLibrary => _native.Value?.Name;

    public byte[] GetEvidence(ReadOnlySpan<byte> reportData64)
    {
        if (reportData64.Length != 64)
        {
            throw new ArgumentException($"report data is 64 bytes, not {reportData64.Length}", nameof(reportData64));
        }

        Native native = _native.Value
            ?? throw new EvidenceUnavailableException($"Open Enclave is not available: none of {string.Join(", ", _libraries)} loads with the attester exports");
        lock (_lock)
        {
            if (!_initialized)
            {
                int initialized = native.Initialize();
                if (initialized != OeOk)
                {
                    throw new EvidenceUnavailableException($"oe_attester_initialize failed with oe_result_t {initialized}");
                }

                _initialized = true;
            }
        }

        nint format = Marshal.AllocHGlobal(16);
        nint claims = Marshal.AllocHGlobal(64);
        try
        {
            Marshal.Copy(SgxEcdsaFormatId.ToArray(), 0, format, 16);
            Marshal.Copy(reportData64.ToArray(), 0, claims, 64);
            int result = native.GetEvidence(format, 0, claims, 64, 0, 0, out nint evidence, out nuint size, 0, 0);
            if (result != OeOk)
            {
                throw new EvidenceUnavailableException($"oe_get_evidence failed with oe_result_t {result}");
            }

            try
            {
                if (evidence == 0 || size == 0 || size > 1024 * 1024)
                {
                    throw new EvidenceUnavailableException($"oe_get_evidence returned {size} bytes");
                }

                byte[] bytes = new byte[(int)size];
                Marshal.Copy(evidence, bytes, 0, bytes.Length);
                return bytes;
            }
            finally
            {
                native.Free(evidence);
            }
        }
        finally
        {
            Marshal.FreeHGlobal(format);
            Marshal.FreeHGlobal(claims);
        }
    }

    public void Dispose()
    {
        if (_native.IsValueCreated && _native.Value is { } native)
        {
            NativeLibrary.Free(native.Handle);
        }
    }

    private Native? Load()
    {
        foreach (string name in _libraries)
        {
            if (!NativeLibrary.TryLoad(name, out nint handle))
            {
                continue;
            }

            if (NativeLibrary.TryGetExport(handle, "oe_attester_initialize", out nint initialize)
                && NativeLibrary.TryGetExport(handle, "oe_get_evidence", out nint getEvidence)
                && NativeLibrary.TryGetExport(handle, "oe_free_evidence", out nint free))
            {
                return new Native(
                    name,
                    handle,
                    Marshal.GetDelegateForFunctionPointer<AttesterInitialize>(initialize),
                    Marshal.GetDelegateForFunctionPointer<GetEvidenceFunction>(getEvidence),
                    Marshal.GetDelegateForFunctionPointer<FreeEvidenceFunction>(free));
            }

            NativeLibrary.Free(handle);
        }

        return null;
    }

    private sealed record Native(string Name, nint Handle, AttesterInitialize Initialize, GetEvidenceFunction GetEvidence, FreeEvidenceFunction Free);
}
