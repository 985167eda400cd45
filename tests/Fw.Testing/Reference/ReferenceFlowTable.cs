using Fw.Rules;

namespace Fw.Testing.Reference;

// The oracle of issue 13 ("Stateful filtering"): fw's flow table as rules/README.md describes it, written out
// plainly, one sentence at a time. It shares nothing with the data plane: a dictionary of flows, keyed by who
// started them, and the contract's phases and timeouts. Time is whole seconds, as the data plane keeps it.

/// <summary>Who put a flow into the table.</summary>
public enum FlowOrigin
{
    /// <summary>A packet that left through the interface (the egress program): its replies are established.</summary>
    Egress,

    /// <summary>An inbound packet a `track: true` rule passed: the flow's packets, both ways, are established.</summary>
    Tracked,
}

/// <summary>Where a flow is in its life; each phase has its timeout (`conntrack: timeouts:`).</summary>
public enum FlowPhase
{
    TcpSyn,
    TcpEstablished,
    TcpClosing,
    Udp,
    UdpReplied,
    Icmp,
}

/// <summary>
/// A flow as the table keys it: family, protocol, and the two ends, the one that started it first. Ports are the
/// TCP or UDP ports, the ICMP or ICMPv6 echo identifier on both sides, and 0 for any other protocol.
/// </summary>
public readonly record struct FlowKey(IpFamily Family, byte Proto, UInt128 From, int FromPort, UInt128 To, int ToPort)
{
    public FlowKey Reversed => new(Family, Proto, To, ToPort, From, FromPort);
}

public sealed record Flow(FlowOrigin Origin, FlowPhase Phase, long LastSeen);

/// <summary>The flow table of one interface and the state of each inbound packet.</summary>
public sealed class ReferenceFlowTable(ConntrackSettings settings)
{
    private readonly Dictionary<FlowKey, Flow> _flows = [];

    public IReadOnlyDictionary<FlowKey, Flow> Flows => _flows;

    /// <summary>
    /// An inbound frame, at second <paramref name="now"/>: its state, the first match with `state` as one more
    /// field, and what the table learns (the flow the packet belongs to is refreshed and moves on, whatever the
    /// verdict, as nftables' conntrack sees packets before the filter; a `track: true` pass rule adds its flow).
    /// </summary>
    public Result Evaluate(Ruleset rs, ReadOnlySpan<byte> frame, long now)
    {
        var p = ReferenceEvaluator.Parse(frame);
        if (p.Kind == FrameKind.Malformed)
            return new Result(rs.Malformed, Reason.Malformed, -1);
        if (p.Kind == FrameKind.NonIp)
            return new Result(rs.NonIp, Reason.NonIp, -1);

        var state = StateOf(p, frame, now, out var known);
        if (known is { } k)
            Seen(k.Key, k.Reply, p, now);

        foreach (Rule rule in rs.Rules)
        {
            if (rule.State is { } wanted && (wanted & state) == 0)
                continue;
            if (!ReferenceEvaluator.Matches(rule, p))
                continue;
            if (rule.Track && rule.Action == RuleAction.Pass && known is null && KeyOf(p, frame) is { } key)
                _flows[key] = new Flow(FlowOrigin.Tracked, FirstPhase(p), now);
            return new Result(rule.Action, Reason.Rule, rule.Index);
        }
        return new Result(rs.Default, Reason.Default, -1);
    }

    /// <summary>A frame leaving through the interface (what the egress program sees): it starts or refreshes its flow.</summary>
    public void Egress(ReadOnlySpan<byte> frame, long now)
    {
        var p = ReferenceEvaluator.Parse(frame);
        if (p.Kind != FrameKind.Ip || KeyOf(p, frame) is not { } key)
            return;
        if (Live(key, now) is not null)
        {
            Seen(key, reply: false, p, now);   // more of a flow this side started
            return;
        }
        if (Live(key.Reversed, now) is not null)
        {
            Seen(key.Reversed, reply: true, p, now);   // a reply to a flow the other side started (a tracked one)
            return;
        }
        _flows[key] = new Flow(FlowOrigin.Egress, FirstPhase(p), now);
    }

    /// <summary>
    /// "established": the packet belongs to a live flow in the direction that makes it a reply (a flow that left
    /// through this interface), or to a flow a track rule admitted, either way. "related": an ICMP or ICMPv6 error
    /// whose quoted packet belongs to a live flow. "new": everything else, a non-first fragment included (it has
    /// no ports to find its flow by).
    /// </summary>
    public ConnState StateOf(PacketFields p, ReadOnlySpan<byte> frame, long now, out (FlowKey Key, bool Reply)? known)
    {
        known = null;
        // An echo request is never a reply, whatever its identifier; a tracked flow's packets are established either way.
        bool request = IsIcmp(p) && p.IcmpType == EchoRequest(p.Family);
        if (KeyOf(p, frame) is { } key)
        {
            if (Live(key.Reversed, now) is { } other && (!request || other.Origin == FlowOrigin.Tracked))
            {
                known = (key.Reversed, true);   // we (or a tracked peer's reply) started it; this comes back
                return ConnState.Established;
            }
            if (Live(key, now) is { Origin: FlowOrigin.Tracked })
            {
                known = (key, false);
                return ConnState.Established;
            }
        }
        if (QuotedKey(p, frame) is { } quoted && (Live(quoted, now) is not null || Live(quoted.Reversed, now) is not null))
            return ConnState.Related;
        return ConnState.New;
    }

    /// <summary>The flow, unless it is missing or its phase's timeout passed since it was last seen.</summary>
    public Flow? Live(FlowKey key, long now) =>
        _flows.TryGetValue(key, out var f) && now < f.LastSeen + Timeout(f.Phase) ? f : null;

    public long Timeout(FlowPhase phase) => phase switch
    {
        FlowPhase.TcpSyn => settings.TcpSyn,
        FlowPhase.TcpEstablished => settings.TcpEstablished,
        FlowPhase.TcpClosing => settings.TcpClosing,
        FlowPhase.Udp => settings.Udp,
        FlowPhase.UdpReplied => settings.UdpReplied,
        _ => settings.Icmp,
    };

    /// <summary>
    /// A packet of a live flow: seen now; "TCP follows SYN, established, FIN/RST closing": a reply moves SYN on to
    /// established, a FIN or RST either way to closing (for good); UDP and the like move on at their first reply.
    /// </summary>
    private void Seen(FlowKey key, bool reply, PacketFields p, long now)
    {
        var f = _flows[key];
        var phase = f.Phase;
        const byte Fin = 0x01, Rst = 0x04;
        if (p.Proto == 6 && p.TcpFlags is { } flags)
        {
            if ((flags & (Fin | Rst)) != 0)
                phase = FlowPhase.TcpClosing;
            else if (phase == FlowPhase.TcpSyn && reply)
                phase = FlowPhase.TcpEstablished;
        }
        else if (phase == FlowPhase.Udp && reply)
        {
            phase = FlowPhase.UdpReplied;
        }
        _flows[key] = f with { Phase = phase, LastSeen = now };
    }

    private static FlowPhase FirstPhase(PacketFields p) => p.Proto switch
    {
        6 => FlowPhase.TcpSyn,
        1 or 58 => FlowPhase.Icmp,
        _ => FlowPhase.Udp,
    };

    /// <summary>
    /// The packet's flow, as its sender started it. TCP and UDP: the ports. ICMP and ICMPv6: echo requests and
    /// replies only, by identifier (a reply goes back to the request's sender); other ICMP messages are no flow.
    /// Other protocols: ports 0. A non-first fragment: none.
    /// </summary>
    public static FlowKey? KeyOf(PacketFields p, ReadOnlySpan<byte> frame)
    {
        if (p.NonFirstFragment || p.TransportAt is not int at)
            return null;
        if (p.Proto is 6 or 17)
            return new FlowKey(p.Family, p.Proto, p.Src, p.SrcPort!.Value, p.Dst, p.DstPort!.Value);
        if (IsIcmp(p))
        {
            // The family's own echo types only: ICMPv6 128 in an IPv4 packet (or 8 in ICMPv6) is no echo.
            int id = Be16(frame, at + 4);
            return p.IcmpType == EchoRequest(p.Family) || p.IcmpType == EchoReply(p.Family)
                ? new FlowKey(p.Family, p.Proto, p.Src, id, p.Dst, id)   // a reply's key is its request's reverse
                : null;
        }
        return new FlowKey(p.Family, p.Proto, p.Src, 0, p.Dst, 0);
    }

    /// <summary>
    /// The flow of the packet an ICMP error quotes: destination unreachable, time exceeded, parameter problem
    /// (ICMP 3, 11, 12) or destination unreachable, packet too big, time exceeded, parameter problem (ICMPv6 1-4),
    /// whose payload holds the offending packet's IP header (of the error's family, no IPv6 extension header) and
    /// at least the first 8 bytes of its transport header.
    /// </summary>
    public static FlowKey? QuotedKey(PacketFields p, ReadOnlySpan<byte> frame)
    {
        if (!IsIcmp(p) || p.TransportAt is not int at)
            return null;
        bool error = p.Family == IpFamily.V4 ? p.IcmpType is 3 or 11 or 12 : p.IcmpType is 1 or 2 or 3 or 4;
        if (!error)
            return null;
        int q = at + 8;
        UInt128 src, dst;
        byte proto;
        int l4;
        if (p.Family == IpFamily.V4)
        {
            if (frame.Length - q < 20 || frame[q] >> 4 != 4 || (frame[q] & 0x0f) < 5)
                return null;
            l4 = q + (frame[q] & 0x0f) * 4;
            if ((Be16(frame, q + 6) & 0x1fff) != 0)
                return null;   // a quoted non-first fragment has no ports
            proto = frame[q + 9];
            src = (UInt128)Be32(frame, q + 12) << 96;
            dst = (UInt128)Be32(frame, q + 16) << 96;
        }
        else
        {
            if (frame.Length - q < 40 || frame[q] >> 4 != 6)
                return null;
            l4 = q + 40;
            proto = frame[q + 6];
            src = Be128(frame, q + 8);
            dst = Be128(frame, q + 24);
        }
        if (frame.Length - l4 < 8)
            return null;
        if (proto is 6 or 17)
            return new FlowKey(p.Family, proto, src, Be16(frame, l4), dst, Be16(frame, l4 + 2));
        bool icmp = (p.Family == IpFamily.V4 && proto == 1) || (p.Family == IpFamily.V6 && proto == 58);
        if (icmp)
        {
            byte type = frame[l4];
            int id = Be16(frame, l4 + 4);
            return type == EchoRequest(p.Family) ? new FlowKey(p.Family, proto, src, id, dst, id) : null;
        }
        return new FlowKey(p.Family, proto, src, 0, dst, 0);
    }

    private static byte EchoRequest(IpFamily family) => family == IpFamily.V4 ? (byte)8 : (byte)128;

    private static byte EchoReply(IpFamily family) => family == IpFamily.V4 ? (byte)0 : (byte)129;

    private static bool IsIcmp(PacketFields p) =>
        (p.Family == IpFamily.V4 && p.Proto == 1) || (p.Family == IpFamily.V6 && p.Proto == 58);

    private static int Be16(ReadOnlySpan<byte> f, int at) => (f[at] << 8) | f[at + 1];

    private static uint Be32(ReadOnlySpan<byte> f, int at) => (uint)((f[at] << 24) | (f[at + 1] << 16) | (f[at + 2] << 8) | f[at + 3]);

    private static UInt128 Be128(ReadOnlySpan<byte> f, int at) => ((UInt128)((ulong)Be32(f, at) << 32 | Be32(f, at + 4)) << 64)
        | ((ulong)Be32(f, at + 8) << 32 | Be32(f, at + 12));
}
