using Enclave.KeyBroker;

namespace Enclave.Bench;

/// <summary>Options that cannot run: printed as one line, exit code 2.</summary>
internal sealed class BenchException : Exception
{
    public BenchException(string message)
        : base(message)
    {
    }
}

internal static class BenchErrors
{
    public static async Task<int> RunAsync(Func<Task<int>> action)
    {
        try
        {
            return await action().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is BenchException or IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"enclave-bench: {ex.Message}");
            return 2;
        }
    }

    /// <summary>The connection string for the chosen store: none for SQLite, required for PostgreSQL.</summary>
    public static string? StoreConnectionString(KeyBrokerStoreKind kind, string? postgres) => kind switch
    {
        KeyBrokerStoreKind.Postgres when string.IsNullOrWhiteSpace(postgres) => throw new BenchException("--store postgres needs --postgres \"Host=...;Database=...;Username=...\""),
        KeyBrokerStoreKind.Postgres => postgres,
        _ when !string.IsNullOrWhiteSpace(postgres) => throw new BenchException("--postgres is only for --store postgres"),
        _ => null,
    };
}

/// <summary>`--json` as on the enclave CLI: alone it prints one JSON line on standard output, with a PATH it
/// writes the file atomically (a temporary file beside it, then a rename).</summary>
internal static class BenchJson
{
    public static System.CommandLine.Option<string?> Option() => new("--json")
    {
        Description = "print the result as one line of JSON on standard output, or with a PATH write it there",
        Arity = System.CommandLine.ArgumentArity.ZeroOrOne,
    };

    public static bool Requested(System.CommandLine.ParseResult parse, System.CommandLine.Option<string?> json) => parse.GetResult(json) is not null;

    public static void Write(System.CommandLine.ParseResult parse, System.CommandLine.Option<string?> json, System.Text.Json.Nodes.JsonNode document)
    {
        string text = document.ToJsonString();
        string? path = parse.GetValue(json);
        if (path is null)
        {
            Console.WriteLine(text);
            return;
        }

        try
        {
            string full = Path.GetFullPath(path);
            File.WriteAllText(full + ".tmp", text + "\n");
            File.Move(full + ".tmp", full, overwrite: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new BenchException($"--json {path}: {ex.Message}");
        }
    }
}
