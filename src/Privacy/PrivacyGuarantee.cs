namespace Enclave.Privacy;

/// <summary>
/// An (ε, δ)-DP guarantee and the Rényi order it was derived from. <see cref="Order"/> is NaN when no order gives a
/// finite ε (then <see cref="Epsilon"/> is +∞).
/// </summary>
public readonly record struct PrivacyGuarantee(double Epsilon, double Delta, double Order);
