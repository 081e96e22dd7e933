namespace Enclave.Fuzz;

/// <summary>Feeds one input to one parser. Throws only when the parser does something it does not document.</summary>
internal delegate void FuzzAction(ReadOnlySpan<byte> input);

/// <summary>A seed input and the file name it is written under.</summary>
internal sealed record Seed(string Name, byte[] Bytes);

/// <summary>Where a target's real inputs live among the shared test vectors: <c>KIND/*/FILE</c>.</summary>
internal sealed record VectorFiles(string Kind, string File);

/// <summary>
/// A named fuzz target: the parser it drives, how to make small valid seeds for it, and which shared test
/// vectors are real inputs of its format.
/// </summary>
internal sealed record FuzzTarget(
    string Name,
    FuzzAction Run,
    string Parser,
    Func<IEnumerable<Seed>>? Seeds = null,
    params VectorFiles[] Vectors);
