// The coordinator's durable state: the global model, the round counter and its manifest signing key.
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Enclave.Crypto;

namespace Enclave.Aggregator.Rounds;

public sealed class CoordinatorState
{
    private readonly string _directory;

    private CoordinatorState(string directory, uint round, float[] model, ECDsa signingKey)
    {
        _directory = directory;
        Round = round;
        Model = model;
        SigningKey = signingKey;
        SigningKeyId = Jwk.FromEcPublic(signingKey.ExportParameters(false)).ComputeThumbprint();
    }

    public uint Round { get; private set; }

    public float[] Model { get; private set; }

    public ECDsa SigningKey { get; }

    public string SigningKeyId { get; }

    public string ModelHash => HashOf(Model);

    /// <summary>Lower-case hex SHA-256 of a model's float32 little-endian bytes.</summary>
    public static string HashOf(float[] model) => Convert.ToHexStringLower(SHA256.HashData(MemoryMarshal.AsBytes(model.AsSpan())));

    public static CoordinatorState Load(CoordinatorOptions options)
    {
        Directory.CreateDirectory(options.DataDirectory);
        ECDsa key = LoadOrCreateSigningKey(options.DataDirectory);
        string modelPath = Path.Combine(options.DataDirectory, "model.f32");
        string roundPath = Path.Combine(options.DataDirectory, "round.txt");
        Training.ModelSpec spec = Training.ModelSpec.For(options.Plan.Plan.Model);
        int expected = spec.ParameterCount;
        if (File.Exists(modelPath) && File.Exists(roundPath))
        {
            byte[] bytes = File.ReadAllBytes(modelPath);
            if (bytes.Length != expected * sizeof(float))
            {
                throw new InvalidDataException($"{modelPath} holds {bytes.Length} bytes; plan {options.Plan.Plan.Id}'s {spec.Kind} has {expected * sizeof(float)}");
            }

            return new CoordinatorState(options.DataDirectory, uint.Parse(File.ReadAllText(roundPath).Trim(), System.Globalization.CultureInfo.InvariantCulture), MemoryMarshal.Cast<byte, float>(bytes).ToArray(), key);
        }

        return new CoordinatorState(options.DataDirectory, 0, spec.InitialModel(options.Plan.Plan.Seed), key);
    }

    public static string PublicKeyPath(string directory) => Path.Combine(directory, "coordinator.jwk");

    /// <summary>Creates the coordinator's manifest signing key in <paramref name="directory"/> unless it exists, so
    /// that its public half can be handed to the key broker before the coordinator first starts; returns the public
    /// key's path.</summary>
    public static string ProvisionSigningKey(string directory)
    {
        Directory.CreateDirectory(directory);
        using ECDsa key = LoadOrCreateSigningKey(directory);
        return PublicKeyPath(directory);
    }

    public void Advance(uint round, float[] model)
    {
        WriteAtomically(Path.Combine(_directory, "model.f32"), MemoryMarshal.AsBytes(model.AsSpan()).ToArray());
        WriteAtomically(Path.Combine(_directory, "round.txt"), System.Text.Encoding.ASCII.GetBytes(round.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Model = model;
        Round = round;
    }

    private static ECDsa LoadOrCreateSigningKey(string directory)
    {
        string path = Path.Combine(directory, "coordinator.key");
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        if (File.Exists(path))
        {
            key.ImportFromPem(File.ReadAllText(path));
        }
        else
        {
            WriteAtomically(path, System.Text.Encoding.ASCII.GetBytes(key.ExportPkcs8PrivateKeyPem()), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        File.WriteAllText(PublicKeyPath(directory), Jwk.FromEcPublic(key.ExportParameters(false), use: "sig").ToJson());
        return key;
    }

    /// <summary>Writes through a temporary file flushed to disk, then renames it over <paramref name="path"/>.</summary>
    internal static void WriteAtomically(string path, byte[] bytes, UnixFileMode? mode = null)
    {
        string temporary = path + ".tmp";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (mode is { } m && !OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = m;
        }

        using (var stream = new FileStream(temporary, options))
        {
            stream.Write(bytes);
            stream.Flush(flushToDisk: true);
        }

        File.Move(temporary, path, overwrite: true);
    }
}
