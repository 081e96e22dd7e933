namespace Enclave.EnclaveApp.Training;

/// <summary>
/// Outcome of one local training run.
/// </summary>
/// <param name="Delta">Local model minus global model, in the layout of docs/formats.md section 7.</param>
/// <param name="SampleCount">Number of local examples trained on (the weight of this delta in the average).</param>
/// <param name="FinalLoss">Mean cross-entropy of the trained local model over the local examples.</param>
/// <param name="TrainAccuracy">Accuracy of the trained local model over the local examples, in [0, 1].</param>
public sealed record TrainingResult(float[] Delta, int SampleCount, double FinalLoss, double TrainAccuracy);
