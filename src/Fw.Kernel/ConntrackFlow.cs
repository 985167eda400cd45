using System.Net;
using Fw.Rules;

namespace Fw.Kernel;

/// <summary>
/// One entry of the flow table, decoded: its original tuple (the end that started the flow is the source),
/// how it came in, its phase, and its times in seconds of the kernel's coarse monotonic clock.
/// </summary>
public sealed record ConntrackFlow(
    FwCtKey Key,
    FwCtEntry Entry,
    byte Proto,
    IPAddress Src,
    ushort Sport,
    IPAddress Dst,
    ushort Dport,
    uint Age,
    long ExpiresIn)
{
    public FwCtOrigin Origin => (FwCtOrigin)Entry.Origin;
    public FwCtPhase Phase => (FwCtPhase)Entry.Phase;
    public bool IsIPv6 => Key.IsIpv6 != 0;

    /// <summary>Expired: its phase's timeout has passed since its last packet; no packet finds it any more.</summary>
    public bool Expired => ExpiresIn <= 0;

    /// <summary>The phase as rules.yaml names its timeout (tcp_syn, ..., icmp).</summary>
    public string PhaseName => (int)Phase < ConntrackSettings.TimeoutKeys.Length ? ConntrackSettings.TimeoutKeys[(int)Phase] : $"phase-{(int)Phase}";

    public string OriginName => Origin switch
    {
        FwCtOrigin.Egress => "egress",
        FwCtOrigin.Tracked => "tracked",
        _ => $"origin-{(int)Origin}",
    };

    /// <summary>The protocol's name (tcp, udp, icmp, icmpv6) or number.</summary>
    public string ProtoName => ConntrackFilter.ProtoName(Proto);

    /// <summary>"tcp 198.18.0.1:40000 -> 198.18.1.2:80" (ports for TCP and UDP, the echo id for ICMP).</summary>
    public string Tuple => Proto is 1 or 58
        ? $"{ProtoName} {Src} -> {Dst} id {Sport}"
        : $"{ProtoName} {Source} -> {Destination}";

    /// <summary>The source as fwctl prints it: "198.18.0.1:40000", "[2001:db8::1]:53", "192.0.2.1 id 77" (ICMP echo).</summary>
    public string Source => End(Src, Sport);

    public string Destination => End(Dst, Dport);

    private string End(IPAddress a, ushort port) => Proto switch
    {
        6 or 17 => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{a}]:{port}" : $"{a}:{port}",
        1 or 58 => $"{a} id {port}",
        _ => a.ToString(),
    };

    /// <summary>Decodes an entry read at <paramref name="now"/> (seconds), with the phase timeouts of <paramref name="conf"/>.</summary>
    public static unsafe ConntrackFlow From(in FwCtKey key, in FwCtEntry entry, uint now, in FwCtConf conf)
    {
        bool v6 = key.IsIpv6 != 0;
        var lo = Address(key.LoHi, key.LoLo, v6);
        var hi = Address(key.HiHi, key.HiLo, v6);
        bool loStarted = entry.StarterLo != 0;
        var (src, sport, dst, dport) = loStarted ? (lo, key.LoPort, hi, key.HiPort) : (hi, key.HiPort, lo, key.LoPort);
        uint timeout = entry.Phase < (int)FwCtPhase.Count ? conf.Timeout[entry.Phase] : 0;
        long expiresIn = (long)entry.LastSeen + timeout - now;
        uint age = now > entry.LastSeen ? now - entry.LastSeen : 0;
        return new ConntrackFlow(key, entry, key.Proto, src, sport, dst, dport, age, expiresIn);
    }

    /// <summary>An address of the key: IPv4 in the low 32 bits of the high half, IPv6 as two host-order halves.</summary>
    internal static IPAddress Address(ulong high, ulong low, bool v6)
    {
        if (!v6)
        {
            uint a = (uint)high;
            return new IPAddress([(byte)(a >> 24), (byte)(a >> 16), (byte)(a >> 8), (byte)a]);
        }
        var b = new byte[16];
        for (int i = 0; i < 8; i++)
        {
            b[i] = (byte)(high >> (56 - 8 * i));
            b[8 + i] = (byte)(low >> (56 - 8 * i));
        }
        return new IPAddress(b);
    }
}
