namespace Enclave.AttestationVerifier.Appraisal;

/// <summary>Stable codes for the ways verified evidence can fail the appraisal policy.</summary>
public enum AppraisalViolationCode
{
    DebugNotAllowed = 1,
    TcbStatusNotAllowed = 2,
    SvnTooLow = 3,
    MeasurementNotAllowed = 4,
    SignerNotAllowed = 5,
    FormatNotAllowed = 6,

    /// <summary>The report data is not SHA-512 of the runtime data, so the runtime data is not bound.</summary>
    ReportDataMismatch = 7,

    /// <summary>The runtime data is not the JSON of docs/formats.md section 3.</summary>
    RuntimeDataInvalid = 8,

    /// <summary>No security team has enrolled the platform in a region.</summary>
    PlatformNotEnrolled = 9,

    /// <summary>The evidence is not genuine (see the verification errors), so nothing it says can be relied on.</summary>
    NotGenuine = 10,
}
