using System.Net;
using System.Net.Sockets;
using Fw.Packets;

namespace Fw.Lab.Demo;

/// <summary>Where a packet, or an exchange, ended up.</summary>
internal enum Fate
{
    /// <summary>It got where it was sent (and a connection or a query got its answer back).</summary>
    Arrived,
    /// <summary>It did not get there.</summary>
    Blocked,
    /// <summary>It arrived in the sink (k0), not where it was sent.</summary>
    Redirected,
}

/// <summary>One kind of traffic: what it is, what the rules should do to it, and how to send it.</summary>
/// <param name="Counter">The counter fw should count it in: a rule's name, "default" or "malformed".</param>
/// <param name="Send">Sends it and says where it went.</param>
internal sealed record Scenario(string Proto, string Flow, string What, Fate Expected, string Counter, Func<Outcome> Send)
{
    /// <summary>The exchange opens a flow that leaves through fw0: fw's egress program must insert it.</summary>
    public bool NewFlow { get; init; }
}

internal sealed record Outcome(Fate Fate, string Detail);

/// <summary>
/// The demo's traffic, in three rounds: the client's traffic to the server (services, blocked ports, crafted
/// frames), connections the server side opens to the client with the client's replies (the flow table at work),
/// and probes a redirect rule sends to the sink. Real sockets are made in the namespace that owns their address.
/// </summary>
internal sealed class Scenarios(Lab lab)
{
    /// <summary>How long what should get through may take: long, since other work may load the machine; only a
    /// failure waits it out.</summary>
    private static readonly TimeSpan ArriveWithin = TimeSpan.FromSeconds(5);

    /// <summary>How long what should be blocked is waited for.</summary>
    private static readonly TimeSpan DropWait = TimeSpan.FromSeconds(1);

    private static readonly IPAddress C4 = LabNet.ClientV4, C6 = LabNet.ClientV6, O4 = LabNet.ClientOtherV4, O6 = LabNet.ClientOtherV6;
    private static readonly IPAddress S4 = LabNet.ServerV4, S6 = LabNet.ServerV6;

    /// <summary>The client's traffic to the server: what the rules let in, what they drop, crafted frames.</summary>
    public IReadOnlyList<Scenario> FromClient() =>
    [
        Tcp(C4, S4, 22, "ssh from the admin range", Fate.Arrived, "ssh-from-admin"),
        Tcp(O4, S4, 22, "ssh from outside it", Fate.Blocked, "drop-other-ssh"),
        Tcp(C6, S6, 22, "ssh from the admin range", Fate.Arrived, "ssh-from-admin"),
        Tcp(O6, S6, 22, "ssh from outside it", Fate.Blocked, "drop-other-ssh"),
        Tcp(C6, S6, 23, "telnet to the server (v6)", Fate.Blocked, "drop-telnet-v6"),
        Tcp(C4, S4, 23, "telnet over IPv4: no rule", Fate.Blocked, "default"),
        Udp(C4, 40000, S4, 53, "dns query", Fate.Arrived, "dns"),
        Udp(C6, 40000, S6, 53, "dns query", Fate.Arrived, "dns"),
        Udp(C4, 123, S4, 40123, "from ntp (amplifier)", Fate.Blocked, "drop-udp-amplifiers"),
        Udp(C6, 1900, S6, 41900, "from ssdp (amplifier)", Fate.Blocked, "drop-udp-amplifiers"),
        Ping(C4, S4, "ping", "ping"),
        Ping(C6, S6, "ping", "ping"),
        Crafted("icmp", $"{C4} -> {S4}", Frame.Icmp(C4, S4, 13).WithPayload(12),
            f => f.Icmp is { V6: false, Type: 13 }, "timestamp request", Fate.Blocked, "drop-icmp-timestamp"),
        Crafted("tcp", $"{C4}:40080 -> {S4}:80", Frame.Tcp(C4, S4, 40080, 80, TcpFlags.Syn),
            f => f.Tcp?.SrcPort == 40080, "syn to a web port", Fate.Arrived, "web"),
        Crafted("tcp", $"{C4}:40081 -> {S4}:80", Frame.Tcp(C4, S4, 40081, 80, TcpFlags.Fin | TcpFlags.Psh | TcpFlags.Urg),
            f => f.Tcp?.SrcPort == 40081, "xmas scan: fin,psh,urg", Fate.Blocked, "drop-xmas-scan"),
        Crafted("tcp", $"198.19.66.7:40082 -> {S4}:80", Frame.Tcp("198.19.66.7", S4.ToString(), 40082, 80),
            f => f.Tcp?.SrcPort == 40082, "source in @blocklist", Fate.Blocked, "drop-blocklisted"),
        Crafted("udp", $"[2001:db8:dead::7]:40083 -> {Ep(S6, 53)}", Frame.Udp("2001:db8:dead::7", S6.ToString(), 40083, 53),
            f => f.Udp?.SrcPort == 40083, "source in @feed", Fate.Blocked, "drop-blocklisted"),
        Crafted("tcp", $"{C4}:40084 -> {S4}:80", Frame.Tcp(C4, S4, 40084, 80).Truncated(14 + 20 + 10),
            f => f.Ipv4?.Src.Equals(C4) == true && f.Ipv4.Id == 1 && f.Length < 60, "tcp header cut short", Fate.Blocked, "malformed"),
    ];

    /// <summary>
    /// Connections the server side opens to the client: they leave through fw0, where the egress program records
    /// their flows, so the client's replies are established; what the client starts on its own is not.
    /// </summary>
    public IReadOnlyList<Scenario> FromServer() =>
    [
        Tcp(S4, C4, 8080, "the server connects out", Fate.Arrived, "replies") with { NewFlow = true },
        Tcp(S6, C6, 8080, "the server connects out", Fate.Arrived, "replies") with { NewFlow = true },
        Query(S4, 40053, C4, 5353, "a query and its answer"),
        Query(S6, 40053, C6, 5353, "a query and its answer"),
        Ping(S4, C4, "ping from the server", "replies") with { NewFlow = true },
        Ping(S6, C6, "ping from the server", "replies") with { NewFlow = true },
        Tcp(C4, S4, 8080, "unsolicited connection", Fate.Blocked, "default"),
        Tcp(C6, S6, 8080, "unsolicited connection", Fate.Blocked, "default"),
        Udp(C4, 5353, S4, 40054, "not an answer (other port)", Fate.Blocked, "default"),
    ];

    /// <summary>Probes for the sink's redirect rule (<see cref="SinkRuleset"/>), and the flow table under the new generation.</summary>
    public IReadOnlyList<Scenario> ToSink() =>
    [
        Redirected("tcp", $"{C4}:40090 -> {S4}:3389", Frame.Tcp(C4, S4, 40090, 3389, TcpFlags.Syn),
            f => f.Tcp?.SrcPort == 40090, "rdp probe", SinkRuleset.RuleName),
        Redirected("tcp", $"{Ep(C6, 40091)} -> {Ep(S6, 5900)}", Frame.Tcp(C6, S6, 40091, 5900, TcpFlags.Syn),
            f => f.Tcp?.SrcPort == 40091, "vnc probe", SinkRuleset.RuleName),
        Crafted("tcp", $"{C4}:40092 -> {S4}:80", Frame.Tcp(C4, S4, 40092, 80, TcpFlags.Syn),
            f => f.Tcp?.SrcPort == 40092, "syn to a web port", Fate.Arrived, "web"),
        Tcp(S4, C4, 8081, "the server connects out", Fate.Arrived, "replies") with { NewFlow = true },
        Tcp(C4, S4, 8081, "unsolicited connection", Fate.Blocked, "default"),
    ];

    private Scenario Tcp(IPAddress src, IPAddress dst, int port, string what, Fate expected, string counter) =>
        new("tcp", $"{src} -> {Ep(dst, port)}", what, expected, counter, () =>
        {
            var r = lab.Tcp(src, dst, port, timeout: expected == Fate.Arrived ? ArriveWithin : DropWait);
            return new Outcome(r.Delivered ? Fate.Arrived : Fate.Blocked, r.Delivered ? $"connected, {r.Echoed.Length} bytes echoed"
                : r.Connected ? r.ToString() : $"no connection ({r.Error})");
        });

    private Scenario Udp(IPAddress src, int sport, IPAddress dst, int dport, string what, Fate expected, string counter) =>
        new("udp", $"{Ep(src, sport)} -> {Ep(dst, dport)}", what, expected, counter, () =>
        {
            var r = lab.Udp(src, sport, dst, dport, timeout: expected == Fate.Arrived ? ArriveWithin : DropWait);
            return new Outcome(r.Delivered ? Fate.Arrived : Fate.Blocked,
                r.Arrived ? $"{r.Received.Length}-byte datagram received" : $"nothing received in {r.Took.TotalSeconds:0.0} s");
        });

    private Scenario Ping(IPAddress src, IPAddress dst, string what, string counter) =>
        new(src.AddressFamily == AddressFamily.InterNetwork ? "icmp" : "icmpv6", $"{src} -> {dst}", what, Fate.Arrived, counter, () =>
        {
            var r = lab.Ping(src, dst, ArriveWithin);
            return new Outcome(r.Replied ? Fate.Arrived : Fate.Blocked, r.Replied ? $"echo reply in {r.Took.TotalMilliseconds:0.0} ms" : "no echo reply");
        });

    /// <summary>
    /// A UDP query from <paramref name="src"/> and its answer: the answering socket replies to the address and port
    /// the query came from. Arrived: the answer got back to the asking socket.
    /// </summary>
    private Scenario Query(IPAddress src, int sport, IPAddress dst, int dport, string what) =>
        new("udp", $"{Ep(src, sport)} -> {Ep(dst, dport)}", what, Fate.Arrived, "replies", () =>
        {
            var family = src.AddressFamily;
            using var asker = lab.Owner(src).Socket(family, SocketType.Dgram, ProtocolType.Udp);
            asker.Bind(new IPEndPoint(src, sport));
            using var answerer = lab.Owner(dst).Socket(family, SocketType.Dgram, ProtocolType.Udp);
            answerer.Bind(new IPEndPoint(dst, dport));

            asker.SendTo("fw demo: a query\n"u8, new IPEndPoint(dst, dport));
            if (!answerer.Poll(ArriveWithin, SelectMode.SelectRead))
                return new Outcome(Fate.Blocked, "the query did not arrive");
            var buffer = new byte[2048];
            EndPoint from = new IPEndPoint(family == AddressFamily.InterNetwork ? IPAddress.Any : IPAddress.IPv6Any, 0);
            answerer.ReceiveFrom(buffer, ref from);
            answerer.SendTo("fw demo: the answer to a query\n"u8, from);
            if (!asker.Poll(ArriveWithin, SelectMode.SelectRead))
                return new Outcome(Fate.Blocked, $"query received, no answer back in {ArriveWithin.TotalSeconds:0.0} s");
            int n = asker.Receive(buffer);
            return new Outcome(Fate.Arrived, $"query received, {n}-byte answer back");
        }) { NewFlow = true };

    /// <summary>A crafted frame sent from c0 through an AF_PACKET socket; a capture on s0 says whether fw0 let it through.</summary>
    private Scenario Crafted(string proto, string flow, Frame frame, Func<ParsedFrame, bool> match, string what, Fate expected, string counter) =>
        new(proto, flow, what, expected, counter, () =>
        {
            using var cap = lab.CaptureServer();
            lab.SendFromClient(Lab.FromClient(frame));
            var got = cap.WaitFor(f => match(f.Parsed), expected == Fate.Arrived ? ArriveWithin : DropWait / 2);
            return new Outcome(got is not null ? Fate.Arrived : Fate.Blocked,
                got is not null ? "captured on s0" : $"not on s0 in {(DropWait / 2).TotalSeconds:0.0} s");
        });

    /// <summary>A crafted frame sent from c0, looked for on s0 (where it was sent) and on k0 (the sink) at once.</summary>
    private Scenario Redirected(string proto, string flow, Frame frame, Func<ParsedFrame, bool> match, string what, string counter) =>
        new(proto, flow, what, Fate.Redirected, counter, () =>
        {
            using var watch = lab.Watch();
            lab.SendFromClient(Lab.FromClient(frame));
            var seen = watch.Settle();
            bool sink = seen.Sink.Any(f => match(f.Parsed)), server = seen.Server.Any(f => match(f.Parsed));
            return (sink, server) switch
            {
                (true, false) => new Outcome(Fate.Redirected, "captured on k0 (the sink), not on s0"),
                (_, true) => new Outcome(Fate.Arrived, sink ? "captured on s0 and on k0" : "captured on s0"),
                _ => new Outcome(Fate.Blocked, "neither on s0 nor on k0"),
            };
        });

    private static string Ep(IPAddress a, int port) =>
        a.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{a}]:{port}" : $"{a}:{port}";
}
