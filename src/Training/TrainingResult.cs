namespace Enclave.Training;

/// <summary>
/// Outcome of one local training run.
/// </summary>
/// <remarks>
/// Only <see cref="Delta"/> is covered by DP-SGD's guarantee. <see cref="FinalLoss"/>, <see cref="TrainAccuracy"/> and
/// <see cref="UpdateNorm"/> are exact functions of the local data: with DP on, they must not leave the enclave.
/// </remarks>
/// <param name="Delta">
/// Returned local model minus global model, in the layout of docs/formats.md section 7, scaled to at most the plan's
/// update clip norm.
/// </param>
/// <param name="SampleCount">Number of local examples trained on (the weight of this delta in the average).</param>
/// <param name="FinalLoss">Mean cross-entropy of the returned local model (global + delta) over the local examples.</param>
/// <param name="TrainAccuracy">Accuracy of the returned local model over the local examples, in [0, 1].</param>
/// <param name="Steps">Optimiser steps taken.</param>
/// <param name="UpdateNorm">L2 norm of the local change before the update clip.</param>
public sealed record TrainingResult(
    float[] Delta,
    int SampleCount,
    double FinalLoss,
    double TrainAccuracy,
    long Steps,
    double UpdateNorm);
