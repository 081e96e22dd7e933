using System.CommandLine;
using Enclave.Cli.DataOwner;

namespace Enclave.Cli.Commands;

/// <summary>The data owner's verbs for protecting data.</summary>
internal static class DataCommands
{
    public static Command Create()
    {
        var source = new Option<string>("--source") { Description = "Fashion-MNIST folder", DefaultValueFactory = _ => "/usr/share/datasets/fashion-mnist" };
        var datasetId = new Option<string>("--dataset-id") { Required = true, Description = "dataset id bound into every chunk" };
        var region = new Option<string>("--region") { Required = true, Description = "region the data lives in, bound into every chunk" };
        var shard = new Option<string>("--shard") { Description = "I/N: take examples i, i+N, i+2N, ...", DefaultValueFactory = _ => "0/1" };
        var limit = new Option<int?>("--limit") { Description = "at most this many examples" };
        var output = new Option<string>("--out") { Required = true, Description = "encrypted dataset file (.encds)" };
        var keyOut = new Option<string>("--key-out") { Required = true, Description = "file for the fresh 256-bit data key (0600)" };
        var encrypt = new Command("encrypt", "Encrypt a shard of the training set under a fresh data key (chunked AES-256-GCM).") { source, datasetId, region, shard, limit, output, keyOut };
        encrypt.SetAction(parse => CliErrors.RunAsync(() =>
        {
            string[] parts = parse.GetValue(shard)!.Split('/');
            if (parts.Length != 2 || !int.TryParse(parts[0], out int index) || !int.TryParse(parts[1], out int count) || count < 1 || index < 0 || index >= count)
            {
                throw new CliException("--shard must be I/N with 0 <= I < N, for example 0/3");
            }

            string id = parse.GetValue(datasetId)!;
            string place = parse.GetValue(region)!;
            if (!Enclave.Crypto.EncryptedDataset.IsValidDatasetId(id))
            {
                throw new CliException($"--dataset-id '{id}' must be 1 to 128 of [A-Za-z0-9._-]");
            }

            if (!Enclave.Crypto.EncryptedDataset.IsValidRegion(place))
            {
                throw new CliException($"--region '{place}' must be 1 to 64 of [a-z0-9-]");
            }

            byte[] key = DatasetProtector.NewDataKey();
            try
            {
                ProtectedDataset result = DatasetProtector.ProtectWithKeyFile(parse.GetValue(source)!, id, place, index, count, parse.GetValue(limit), parse.GetValue(output)!, parse.GetValue(keyOut)!, key);
                Console.WriteLine($"encrypted {result.Examples} examples of {result.DatasetId} for {result.Region} into {result.Path} ({result.CiphertextBytes} bytes)");
            }
            finally
            {
                System.Security.Cryptography.CryptographicOperations.ZeroMemory(key);
            }

            return Task.FromResult(0);
        }));
        return new Command("data", "Protect datasets.") { encrypt };
    }
}
