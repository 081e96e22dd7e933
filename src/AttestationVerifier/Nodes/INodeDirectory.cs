namespace Enclave.AttestationVerifier.Nodes;

/// <summary>Looks up which region a platform is enrolled in. The seam between appraisal and node storage.</summary>
public interface INodeDirectory
{
    /// <summary>The current enrolment of <paramref name="platformId"/>, or null when it is not enrolled.</summary>
    NodeEnrollment? Find(string platformId);
}
