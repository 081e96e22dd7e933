namespace Enclave.Cli.Commands;

/// <summary>A user-facing error: printed as one line and mapped to exit code 2 (unusable input).</summary>
internal sealed class CliException : Exception
{
    public CliException(string message)
        : base(message)
    {
    }
}

internal static class CliErrors
{
    public static async Task<int> RunAsync(Func<Task<int>> action)
    {
        try
        {
            return await action().ConfigureAwait(false);
        }
        catch (CliException ex)
        {
            Console.Error.WriteLine($"enclave: {ex.Message}");
            return 2;
        }
        catch (Enclave.KeyBroker.Keys.MasterKeyException ex)
        {
            Console.Error.WriteLine($"enclave: master key {ex.Error}: {ex.Message}");
            return 2;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // A file that cannot be read or written is unusable input, not a rejection (exit 1) and not a crash.
            Console.Error.WriteLine($"enclave: {ex.Message}");
            return 2;
        }
    }

    public static Uri ParseUri(string value, string option) =>
        Uri.TryCreate(value, UriKind.Absolute, out Uri? uri) && (uri.Scheme == "http" || uri.Scheme == "https")
            ? uri
            : throw new CliException($"{option} must be an http(s) URL, got '{value}'");
}
