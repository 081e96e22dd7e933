using Enclave.AttestationVerifier.Endorsements.Dcap;
using Enclave.AttestationVerifier.Evidence.Dcap;

namespace Enclave.AttestationVerifier.Verification.Dcap;

/// <summary>The TCB status of a platform, or why none could be found.</summary>
internal sealed record TcbEvaluation(string? Status, IReadOnlyList<string> AdvisoryIds, string? Problem, DateTimeOffset? TcbDate = null)
{
    public static TcbEvaluation NotFound(string problem) => new(null, [], problem);
}

/// <summary>
/// Intel's TCB level matching (PCS API "TCB Info", and the Quote Verification Library's TcbLevelCheck and
/// TdxModuleCheck): the first level, in the order given, whose SGX component SVNs and PCESVN are all at or below
/// the PCK certificate's (and, for TDX, whose TDX component SVNs are at or below TEE_TCB_SVN, skipping the two
/// module bytes when the TDX module major version TEE_TCB_SVN[1] is not 0) gives the platform status. The TDX
/// module status comes from the tdxModuleIdentities entry "TDX_&lt;TEE_TCB_SVN[1] as two hex digits&gt;" (its
/// first level with isvsvn at or below TEE_TCB_SVN[0]); the QE status from the QE identity level for the QE
/// report's isvsvn. Statuses combine as the Quote Verification Library does: an OutOfDate module or QE makes an
/// UpToDate/SWHardeningNeeded platform OutOfDate and a Configuration* platform OutOfDateConfigurationNeeded;
/// Revoked anywhere is Revoked.
/// </summary>
internal static class TcbEvaluator
{
    public static TcbEvaluation Platform(TcbInfo info, PckExtensions pck, TdReportBody? td)
    {
        for (int i = 0; i < info.Levels.Count; i++)
        {
            TcbLevel level = info.Levels[i];
            bool sgxOk = pck.PceSvn >= level.PceSvn;
            for (int c = 0; c < 16 && sgxOk; c++)
            {
                sgxOk = pck.CompSvns[c] >= level.SgxComponents[c];
            }

            if (!sgxOk)
            {
                continue;
            }

            if (td is not null)
            {
                if (level.TdxComponents is null)
                {
                    return TcbEvaluation.NotFound("the TCB info has no TDX components");
                }

                int start = td.TeeTcbSvn[1] > 0 ? 2 : 0;
                bool tdxOk = true;
                for (int c = start; c < 16 && tdxOk; c++)
                {
                    tdxOk = td.TeeTcbSvn[c] >= level.TdxComponents[c];
                }

                if (!tdxOk)
                {
                    continue;
                }
            }

            return new TcbEvaluation(level.Status, level.AdvisoryIds, null, level.TcbDate);
        }

        return TcbEvaluation.NotFound(td is null
            ? "no TCB level of the TCB info is at or below the PCK certificate's SGX component SVNs and PCESVN"
            : "no TCB level of the TCB info is at or below the PCK certificate's SGX components and PCESVN and the quote's TEE_TCB_SVN");
    }

    public static TcbEvaluation TdxModule(TcbInfo info, TdReportBody td)
    {
        int version = td.TeeTcbSvn[1];
        if (version == 0)
        {
            if (info.TdxModule is not { } module)
            {
                return TcbEvaluation.NotFound("the TDX TCB info has no tdxModule");
            }

            return MatchesModule(module.MrSigner, module.Attributes, module.AttributesMask, td)
                ? new TcbEvaluation(TcbStatus.UpToDate, [], null)
                : TcbEvaluation.NotFound("MR_SIGNER_SEAM or SEAM_ATTRIBUTES do not match the TCB info's tdxModule");
        }

        string id = $"TDX_{version:X2}";
        TdxModuleIdentity? identity = info.TdxModuleIdentities.FirstOrDefault(m => string.Equals(m.Id, id, StringComparison.OrdinalIgnoreCase));
        if (identity is null)
        {
            return TcbEvaluation.NotFound($"the TCB info has no TDX module identity {id}");
        }

        if (!MatchesModule(identity.MrSigner, identity.Attributes, identity.AttributesMask, td))
        {
            return TcbEvaluation.NotFound($"MR_SIGNER_SEAM or SEAM_ATTRIBUTES do not match TDX module identity {id}");
        }

        IdentityTcbLevel? level = identity.Levels.FirstOrDefault(l => td.TeeTcbSvn[0] >= l.IsvSvn);
        return level is null
            ? TcbEvaluation.NotFound($"no level of TDX module identity {id} is at or below module SVN {td.TeeTcbSvn[0]}")
            : new TcbEvaluation(level.Status, level.AdvisoryIds, null);
    }

    public static TcbEvaluation Qe(EnclaveIdentity identity, SgxReportBody qeReport)
    {
        IdentityTcbLevel? level = identity.Levels.FirstOrDefault(l => qeReport.IsvSvn >= l.IsvSvn);
        return level is null
            ? TcbEvaluation.NotFound($"no level of the QE identity is at or below the QE's isvsvn {qeReport.IsvSvn}")
            : new TcbEvaluation(level.Status, level.AdvisoryIds, null);
    }

    public static string Converge(string platform, string other) => other switch
    {
        TcbStatus.Revoked => TcbStatus.Revoked,
        TcbStatus.OutOfDate or TcbStatus.OutOfDateConfigurationNeeded => platform switch
        {
            TcbStatus.UpToDate or TcbStatus.SWHardeningNeeded => TcbStatus.OutOfDate,
            TcbStatus.ConfigurationNeeded or TcbStatus.ConfigurationAndSWHardeningNeeded => TcbStatus.OutOfDateConfigurationNeeded,
            _ => platform,
        },
        _ => platform,
    };

    private static bool MatchesModule(byte[] mrSigner, byte[] attributes, byte[] mask, TdReportBody td)
    {
        if (!mrSigner.AsSpan().SequenceEqual(td.MrSignerSeam) || attributes.Length != 8 || mask.Length != 8)
        {
            return false;
        }

        for (int i = 0; i < 8; i++)
        {
            if ((td.SeamAttributes[i] & mask[i]) != (attributes[i] & mask[i]))
            {
                return false;
            }
        }

        return true;
    }
}
