using Xunit;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace Enclave.Testing;

/// <summary>Marks a test class whose tests need an external service named by environment variables (a
/// PostgreSQL server, a PKCS#11 token). Its <see cref="EnvironmentFactAttribute"/> tests are reported as
/// skipped, naming the variable, when one is unset; scripts/ci-services.sh sets them all.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = true)]
public sealed class RequiresEnvironmentAttribute : Attribute
{
    public RequiresEnvironmentAttribute(params string[] variables)
    {
        Variables = variables;
    }

    public IReadOnlyList<string> Variables { get; }

    /// <summary>Why the tests of <paramref name="testClass"/> cannot run here, or null when they can.</summary>
    public static string? SkipReason(ITypeInfo testClass)
    {
        foreach (IAttributeInfo attribute in testClass.GetCustomAttributes(typeof(RequiresEnvironmentAttribute)))
        {
            object?[] arguments = attribute.GetConstructorArguments().ToArray();
            IEnumerable<string> variables = arguments.Length == 1 && arguments[0] is IEnumerable<string> list ? list : arguments.OfType<string>();
            string[] missing = variables.Where(v => string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(v))).ToArray();
            if (missing.Length > 0)
            {
                return $"needs {string.Join(", ", missing)} (set by scripts/ci-services.sh)";
            }
        }

        return null;
    }
}

/// <summary>A fact that is skipped when its class's <see cref="RequiresEnvironmentAttribute"/> variables
/// are unset, and runs (and can fail) otherwise. Use it for every test that may run in such a class,
/// including tests inherited from an abstract suite.</summary>
[XunitTestCaseDiscoverer("Enclave.Testing.EnvironmentFactDiscoverer", "Enclave.Testing")]
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
public sealed class EnvironmentFactAttribute : FactAttribute
{
}

public sealed class EnvironmentFactDiscoverer : IXunitTestCaseDiscoverer
{
    private readonly IMessageSink _diagnostics;

    public EnvironmentFactDiscoverer(IMessageSink diagnostics)
    {
        _diagnostics = diagnostics;
    }

    public IEnumerable<IXunitTestCase> Discover(ITestFrameworkDiscoveryOptions discoveryOptions, ITestMethod testMethod, IAttributeInfo factAttribute)
    {
        yield return new EnvironmentTestCase(
            _diagnostics, discoveryOptions.MethodDisplayOrDefault(), discoveryOptions.MethodDisplayOptionsOrDefault(), testMethod);
    }
}

/// <summary>A test case whose skip reason is decided from the environment when it runs.</summary>
public sealed class EnvironmentTestCase : XunitTestCase
{
    [Obsolete("Called by the de-serializer; should only be called by deriving classes for de-serialization purposes")]
    public EnvironmentTestCase()
    {
    }

    public EnvironmentTestCase(IMessageSink diagnostics, TestMethodDisplay display, TestMethodDisplayOptions options, ITestMethod testMethod)
        : base(diagnostics, display, options, testMethod)
    {
    }

    protected override string GetSkipReason(IAttributeInfo factAttribute) =>
        RequiresEnvironmentAttribute.SkipReason(TestMethod.TestClass.Class) ?? base.GetSkipReason(factAttribute);
}
