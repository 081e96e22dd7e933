// Faults the demo can inject into one region's data, to show that a region that fails a round is reported as
// failed and the others go on. Each is a real edit of the stored ciphertext, as a faulty disk or host would make.
using Enclave.Cli.Commands;
using Enclave.Crypto;

namespace Enclave.Cli.Demo;

public enum DemoFaultKind
{
    CorruptChunk,
    Truncate,
    MissingData,

    /// <summary>The region's host process dies after the ShareKeys stage, before sending its masked input.</summary>
    CrashAfterShareKeys,
}

internal sealed record DemoFault(DemoFaultKind Kind, string Region)
{
    public static DemoFault Parse(string text)
    {
        int colon = text.IndexOf(':');
        string kind = colon > 0 ? text[..colon] : string.Empty;
        string region = colon > 0 ? text[(colon + 1)..] : string.Empty;
        DemoFaultKind parsed = kind switch
        {
            "corrupt-chunk" => DemoFaultKind.CorruptChunk,
            "truncate" => DemoFaultKind.Truncate,
            "missing-data" => DemoFaultKind.MissingData,
            "crash-after-share-keys" => DemoFaultKind.CrashAfterShareKeys,
            _ => throw new CliException($"--fault must be corrupt-chunk|truncate|missing-data|crash-after-share-keys:REGION, got '{text}'"),
        };
        return string.IsNullOrEmpty(region) ? throw new CliException($"--fault '{text}' names no region") : new DemoFault(parsed, region);
    }

    public string Describe() => Kind switch
    {
        DemoFaultKind.CorruptChunk => "one ciphertext byte of the last chunk flipped",
        DemoFaultKind.Truncate => "dataset truncated in its last chunk",
        DemoFaultKind.CrashAfterShareKeys => "host process dies after ShareKeys, before its masked input",
        _ => "dataset file deleted",
    };

    public void Apply(string path)
    {
        switch (Kind)
        {
            case DemoFaultKind.CorruptChunk:
            {
                using var file = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
                byte[] prefix = new byte[EncryptedDataset.MaxHeaderLength];
                int read = file.Read(prefix);
                DatasetHeader header = EncryptedDataset.ParseHeader(prefix.AsSpan(0, read));
                long last = header.ChunkCount - 1;
                file.Position = header.RecordOffset(last) + 12 + (header.PlaintextChunkLength(last) / 2);
                int value = file.ReadByte();
                file.Position--;
                file.WriteByte((byte)(value ^ 0x01));
                break;
            }

            case DemoFaultKind.Truncate:
            {
                using var file = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
                file.SetLength(file.Length - 100);
                break;
            }

            case DemoFaultKind.CrashAfterShareKeys:
                break;

            default:
                File.Delete(path);
                break;
        }
    }
}
