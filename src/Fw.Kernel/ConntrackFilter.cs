using System.Net;
using Fw.Rules;

namespace Fw.Kernel;

/// <summary>
/// Which flows a conntrack listing or flush takes: by protocol, and by prefixes of the original tuple's source
/// and destination (the end that started the flow is the source). Null matches any.
/// </summary>
public sealed record ConntrackFilter(byte? Proto = null, IpPrefix? Src = null, IpPrefix? Dst = null)
{
    public static ConntrackFilter All { get; } = new();

    public bool Matches(ConntrackFlow f) =>
        (Proto is not { } p || f.Proto == p)
        && (Src is not { } s || Contains(s, f.Src))
        && (Dst is not { } d || Contains(d, f.Dst));

    private static bool Contains(IpPrefix p, IPAddress a) => p.Contains(IpPrefix.FromAddress(a));

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

    /// <summary>An address or ADDRESS/LEN, read as rules.yaml reads them (PrefixParser: strict, no host bits set).</summary>
    public static IpPrefix ParsePrefix(string text)
    {
        var error = PrefixParser.TryParse(text, out var prefix);
        return error == PrefixError.None ? prefix : throw new FormatException(PrefixParser.Describe(error, text, prefix));
    }
}
