using System.Net;
using System.Net.Sockets;

namespace Fw.Kernel;

/// <summary>
/// Which flows a conntrack listing or flush takes: by protocol, and by prefixes of the original tuple's source
/// and destination (the end that started the flow is the source). Null matches any.
/// </summary>
public sealed record ConntrackFilter(byte? Proto = null, IPNetwork? Src = null, IPNetwork? Dst = null)
{
    public static ConntrackFilter All { get; } = new();

    public bool Matches(ConntrackFlow f) =>
        (Proto is not { } p || f.Proto == p)
        && (Src is not { } s || Contains(s, f.Src))
        && (Dst is not { } d || Contains(d, f.Dst));

    private static bool Contains(IPNetwork n, IPAddress a) =>
        n.BaseAddress.AddressFamily == a.AddressFamily && n.Contains(a);

    /// <summary>tcp, udp, icmp, icmpv6 or a number 0-255.</summary>
    public static byte ParseProto(string text) => text.ToLowerInvariant() switch
    {
        "tcp" => 6,
        "udp" => 17,
        "icmp" => 1,
        "icmpv6" or "ipv6-icmp" => 58,
        _ when byte.TryParse(text, System.Globalization.NumberStyles.None, null, out byte n) => n,
        _ => throw new FormatException($"'{text}' is not a protocol (tcp, udp, icmp, icmpv6 or 0-255)"),
    };

    public static string ProtoName(byte proto) => proto switch
    {
        6 => "tcp",
        17 => "udp",
        1 => "icmp",
        58 => "icmpv6",
        _ => proto.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    /// <summary>An address or ADDRESS/LEN; host bits past the length must be zero, as in rules.yaml.</summary>
    public static IPNetwork ParsePrefix(string text)
    {
        int slash = text.IndexOf('/');
        string addr = slash < 0 ? text : text[..slash];
        // Dotted quads or IPv6 only: IPAddress also takes "10" for 0.0.0.10, and scope ids.
        if (!IPAddress.TryParse(addr, out var a) || addr.Contains('%')
            || (a.AddressFamily == AddressFamily.InterNetwork ? addr.Count(c => c == '.') != 3 : a.AddressFamily != AddressFamily.InterNetworkV6))
            throw new FormatException($"'{text}' is not an address or prefix");
        int max = a.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        int len = max;
        if (slash >= 0 && (!int.TryParse(text[(slash + 1)..], System.Globalization.NumberStyles.None, null, out len) || len > max))
            throw new FormatException($"'{text}': the prefix length must be 0-{max}");
        byte[] bytes = a.GetAddressBytes();
        for (int bit = len; bit < max; bit++)
        {
            if ((bytes[bit / 8] & (0x80 >> (bit % 8))) != 0)
                throw new FormatException($"'{text}': bits are set past the prefix length /{len}");
        }
        return new IPNetwork(a, len);
    }
}
