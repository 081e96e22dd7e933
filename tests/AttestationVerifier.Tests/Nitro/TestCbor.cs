using System.Text;

namespace Enclave.AttestationVerifier.Tests.Nitro;

/// <summary>A CBOR map that keeps its entries' order (so re-encoding an unchanged document gives the same bytes).</summary>
internal sealed class CborMap : List<KeyValuePair<object, object?>>
{
    public object? this[string key]
    {
        get => this.First(e => Equals(e.Key, key)).Value;
        set
        {
            int index = FindIndex(e => Equals(e.Key, key));
            if (index < 0)
            {
                Add(new(key, value));
            }
            else
            {
                this[index] = new(key, value);
            }
        }
    }
}

/// <summary>Test-side CBOR (RFC 8949) codec for the items of a Nitro document: long, byte[], string, List, CborMap,
/// bool, null. Encodes with minimal definite lengths, as the NSM does.</summary>
internal static class TestCbor
{
    public static object? Decode(byte[] data)
    {
        int position = 0;
        object? value = DecodeItem(data, ref position);
        Assert.Equal(data.Length, position);
        return value;
    }

    public static byte[] Encode(object? value)
    {
        List<byte> output = [];
        EncodeItem(output, value);
        return [.. output];
    }

    public static byte[] Head(int major, ulong value)
    {
        List<byte> output = [];
        AppendHead(output, major, value);
        return [.. output];
    }

    private static object? DecodeItem(byte[] data, ref int position)
    {
        byte initial = data[position++];
        int major = initial >> 5;
        int info = initial & 0x1F;
        if (major == 7)
        {
            return info switch
            {
                20 => false,
                21 => true,
                22 => null,
                _ => throw new InvalidOperationException($"simple value {info}"),
            };
        }

        ulong argument = info < 24 ? (ulong)info : ReadArgument(data, ref position, 1 << (info - 24));
        switch (major)
        {
            case 0:
                return (long)argument;
            case 1:
                return -1 - (long)argument;
            case 2:
                byte[] bytes = data.AsSpan(position, (int)argument).ToArray();
                position += (int)argument;
                return bytes;
            case 3:
                string text = Encoding.UTF8.GetString(data, position, (int)argument);
                position += (int)argument;
                return text;
            case 4:
                List<object?> list = [];
                for (ulong i = 0; i < argument; i++)
                {
                    list.Add(DecodeItem(data, ref position));
                }

                return list;
            case 5:
                CborMap map = [];
                for (ulong i = 0; i < argument; i++)
                {
                    object key = DecodeItem(data, ref position)!;
                    map.Add(new(key, DecodeItem(data, ref position)));
                }

                return map;
            default:
                return DecodeItem(data, ref position);
        }
    }

    private static ulong ReadArgument(byte[] data, ref int position, int size)
    {
        ulong value = 0;
        for (int i = 0; i < size; i++)
        {
            value = (value << 8) | data[position++];
        }

        return value;
    }

    private static void EncodeItem(List<byte> output, object? value)
    {
        switch (value)
        {
            case null:
                output.Add(0xF6);
                break;
            case bool b:
                output.Add(b ? (byte)0xF5 : (byte)0xF4);
                break;
            case long n when n >= 0:
                AppendHead(output, 0, (ulong)n);
                break;
            case long n:
                AppendHead(output, 1, (ulong)(-1 - n));
                break;
            case int n:
                EncodeItem(output, (long)n);
                break;
            case byte[] bytes:
                AppendHead(output, 2, (ulong)bytes.Length);
                output.AddRange(bytes);
                break;
            case string text:
                byte[] utf8 = Encoding.UTF8.GetBytes(text);
                AppendHead(output, 3, (ulong)utf8.Length);
                output.AddRange(utf8);
                break;
            case CborMap map:
                AppendHead(output, 5, (ulong)map.Count);
                foreach (KeyValuePair<object, object?> entry in map)
                {
                    EncodeItem(output, entry.Key);
                    EncodeItem(output, entry.Value);
                }

                break;
            case System.Collections.IEnumerable items:
                List<object?> all = items.Cast<object?>().ToList();
                AppendHead(output, 4, (ulong)all.Count);
                foreach (object? item in all)
                {
                    EncodeItem(output, item);
                }

                break;
            default:
                throw new InvalidOperationException($"cannot encode {value.GetType()}");
        }
    }

    private static void AppendHead(List<byte> output, int major, ulong value)
    {
        byte type = (byte)(major << 5);
        if (value < 24)
        {
            output.Add((byte)(type | (byte)value));
            return;
        }

        int size = value <= byte.MaxValue ? 1 : value <= ushort.MaxValue ? 2 : value <= uint.MaxValue ? 4 : 8;
        output.Add((byte)(type | (24 + System.Numerics.BitOperations.Log2((uint)size))));
        for (int shift = (size - 1) * 8; shift >= 0; shift -= 8)
        {
            output.Add((byte)(value >> shift));
        }
    }
}
