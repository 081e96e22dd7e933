using System.Text;

namespace Enclave.KeyBroker.Policy;

/// <summary>Builds JSONPath strings for error messages: <c>$.anyOf[0]['x-enclave-regions']</c>.</summary>
internal static class JsonPathText
{
    public const string Root = "$";

    public static string Member(string parent, string name)
    {
        if (IsPlainIdentifier(name))
        {
            return parent + "." + name;
        }

        var builder = new StringBuilder(parent.Length + name.Length + 4);
        builder.Append(parent).Append("['");
        foreach (char c in name)
        {
            if (c == '\'' || c == '\\')
            {
                builder.Append('\\');
            }

            builder.Append(char.IsControl(c) ? '?' : c);
        }

        return builder.Append("']").ToString();
    }

    public static string Index(string parent, int index) => $"{parent}[{index}]";

    private static bool IsPlainIdentifier(string name)
    {
        if (name.Length == 0 || !(char.IsAsciiLetter(name[0]) || name[0] == '_'))
        {
            return false;
        }

        foreach (char c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c == '_'))
            {
                return false;
            }
        }

        return true;
    }
}
