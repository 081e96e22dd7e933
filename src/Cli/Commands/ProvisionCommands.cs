// `enclave provision verifier | coordinator`: creates a service's signing key before the service first starts and
// writes its public half where the operator picks it up for the parties that pin it (the enclave image, the broker,
// the coordinator), so that no service has to start before another to learn a key.
using System.CommandLine;
using Enclave.Aggregator.Rounds;
using Enclave.AttestationVerifier.Tokens;

namespace Enclave.Cli.Commands;

internal static class ProvisionCommands
{
    public static Command Create()
    {
        var verifierDir = new Option<string>("--data-dir") { Required = true, Description = "the verifier's data folder" };
        var verifier = new Command("verifier", $"Create the verifier's token-signing key (unless it exists) and write its public JWKS ({VerifierSigningKey.PublicKeysFileName}).") { verifierDir };
        verifier.SetAction(parse => CliErrors.RunAsync(() =>
        {
            string directory = Path.GetFullPath(parse.GetValue(verifierDir)!);
            try
            {
                VerifierSigningKey.LoadOrCreate(directory).Dispose();
            }
            catch (Exception ex) when (ex is InvalidDataException or IOException or UnauthorizedAccessException)
            {
                throw new CliException($"--data-dir {directory}: {ex.Message}");
            }

            Console.WriteLine(Path.Combine(directory, VerifierSigningKey.PublicKeysFileName));
            return Task.FromResult(0);
        }));

        var coordinatorDir = new Option<string>("--data-dir") { Required = true, Description = "the coordinator's data folder" };
        var coordinator = new Command("coordinator", "Create the coordinator's signing key (unless it exists) and write its public JWK (coordinator.jwk).") { coordinatorDir };
        coordinator.SetAction(parse => CliErrors.RunAsync(() =>
        {
            string directory = Path.GetFullPath(parse.GetValue(coordinatorDir)!);
            try
            {
                Console.WriteLine(CoordinatorState.ProvisionSigningKey(directory));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
            {
                throw new CliException($"--data-dir {directory}: {ex.Message}");
            }

            return Task.FromResult(0);
        }));
        return new Command("provision", "Create a service's signing key before it first starts; print where its public key is.") { verifier, coordinator };
    }
}
