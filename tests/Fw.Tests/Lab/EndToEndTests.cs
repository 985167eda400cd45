using System.Net;
using System.Text;
using Fw.Compiler;
using Fw.Kernel;
using Fw.Lab;
using Fw.Packets;
using Fw.Rules;
using Xunit.Abstractions;
using Fw.Bpf;
using Fw.Control;

namespace Fw.Tests.Lab;

/// <summary>
/// Real traffic through the lab with fw attached to fw0, for every action × IPv4/IPv6 × TCP/UDP/ICMP: what the
/// rules pass arrives on the server (its socket receives it, and s0 sees every frame the client sent), what
/// they drop arrives nowhere, what they redirect to fw2 arrives in the sink and nowhere else; the rule's
/// counter, and its action's total, moved by exactly the frames the client sent (captured leaving c0), and
/// nothing else moved.
/// </summary>
public sealed class EndToEndTests(EndToEndLab fixture, ITestOutputHelper output) : IClassFixture<EndToEndLab>
{
    public enum Family { V4, V6 }

    public enum L4 { Tcp, Udp, Icmp }

    /// <summary>How long what should arrive may take (the lab is shared with other tests on two cores).</summary>
    private static readonly TimeSpan ArriveWithin = TimeSpan.FromSeconds(3);
    /// <summary>How long a denied connection may try; a dropped datagram or echo is waited for this long.</summary>
    private static readonly TimeSpan DenyBound = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan DropWait = TimeSpan.FromMilliseconds(200);
    /// <summary>Sizes of the datagrams, echo payloads and crafted payloads each cell sends (three packets).</summary>
    private static readonly int[] Sizes = [0, 100, 1000];

    public static TheoryData<RuleAction, Family, L4> Cells()
    {
        var data = new TheoryData<RuleAction, Family, L4>();
        foreach (var c in Cell.All)
            data.Add(c.Action, c.Family, c.Proto);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cells))]
    public void TrafficFaresAsItsRuleSaysAndIsCountedExactly(RuleAction action, Family family, L4 proto)
    {
        var cell = new Cell(action, family, proto);
        var lab = fixture.Lab;
        string iface = lab.FwClientIf;

        var before = StatsSnapshot.Read(iface);
        using var watch = lab.Watch();
        byte[][]? crafted = Send(lab, cell);
        var seen = watch.Settle();
        var after = StatsSnapshot.Read(iface);
        var late = watch.Settle(TimeSpan.FromMilliseconds(50));
        Assert.True(late.Sent.Count + late.Server.Count + late.Sink.Count == 0,
            $"{cell}: traffic after the counters were read: c0 sent {Describe(late.Sent)}; s0 saw {Describe(late.Server)}; k0 saw {Describe(late.Sink)}");
        var moved = Moved(before, after, cell.Rule);
        output.WriteLine($"{cell}: c0 sent {seen.Sent.Count} frames ({seen.Sent.Sum(f => f.Bytes.Length):N0} bytes); "
            + $"{cell.Rule} counted {moved.Packets} ({moved.Bytes:N0} bytes); s0 saw {seen.Server.Count}, k0 saw {seen.Sink.Count}");

        // What the client sent: only the cell's flow (nothing else crossed fw0), and the crafted frames as built.
        Assert.NotEmpty(seen.Sent);
        foreach (var f in seen.Sent)
            Assert.True(cell.IsFlow(f.Parsed), $"{cell}: c0 sent a frame outside the flow: {f}");
        if (crafted is not null)
            Assert.Equal(crafted.Select(b => FrameHex.Format(b)), seen.Sent.Select(f => FrameHex.Format(f.Bytes)));

        AssertCounted(cell, before, after, seen.Sent);

        // Where it went: the server, the sink, or nowhere; and nowhere else.
        Assert.True(cell.Action == RuleAction.Pass || seen.Server.Count == 0, $"{cell}: on the server: {Describe(seen.Server)}");
        Assert.True(cell.Action == RuleAction.Redirect || seen.Sink.Count == 0, $"{cell}: in the sink: {Describe(seen.Sink)}");
        if (cell.Action == RuleAction.Pass)
        {
            Assert.True(seen.Sent.Select(f => Routed(f.Bytes)).SequenceEqual(seen.Server.Select(Received)),
                $"{cell}: c0 sent {Describe(seen.Sent)}; s0 saw {Describe(seen.Server)}");
        }
        if (cell.Action == RuleAction.Redirect)
        {
            // XDP_REDIRECT hands the frame to fw2 as it came: same bytes, not routed (no TTL change, c0's MACs).
            Assert.True(seen.Sent.Select(f => FrameHex.Format(f.Bytes)).SequenceEqual(seen.Sink.Select(f => FrameHex.Format(f.Bytes))),
                $"{cell}: c0 sent {Describe(seen.Sent)}; k0 saw {Describe(seen.Sink)}");
        }
    }

    private static Count Moved(StatsSnapshot before, StatsSnapshot after, string rule) =>
        after.Rules.Single(r => r.Name == rule).Counter.Total - before.Rules.Single(r => r.Name == rule).Counter.Total;

    /// <summary>
    /// Sends the cell's traffic and checks what the sockets saw. Pass and drop use real sockets (a TCP exchange,
    /// UDP datagrams, echo requests); redirect sends crafted frames from c0 (a socket would get no answer from
    /// the sink) and returns them.
    /// </summary>
    private static byte[][]? Send(Fw.Lab.Lab lab, Cell cell)
    {
        IPAddress src = cell.Src, dst = cell.Dst;
        switch (cell.Action, cell.Proto)
        {
            case (RuleAction.Pass, L4.Tcp):
            {
                // A connection the rules allow completes its handshake and moves data both ways (several segments).
                byte[] data = Enumerable.Range(0, 20_000).Select(i => (byte)(i * 7)).ToArray();
                var r = lab.Tcp(src, dst, cell.Port, data, ArriveWithin);
                Assert.True(r.Delivered, $"{cell}: {r}");
                Assert.Equal(src, r.ServerSaw!.Address);
                return null;
            }
            case (RuleAction.Drop, L4.Tcp):
            {
                // One the rules deny fails to connect, within its bound.
                var r = lab.Tcp(src, dst, cell.Port, timeout: DenyBound);
                Assert.False(r.Connected, $"{cell}: {r}");
                Assert.Null(r.ServerSaw);
                Assert.True(r.Took < DenyBound + TimeSpan.FromSeconds(1), $"{cell}: gave up after {r.Took}");
                return null;
            }
            case (RuleAction.Pass or RuleAction.Drop, L4.Udp):
            {
                bool pass = cell.Action == RuleAction.Pass;
                foreach (int n in Sizes)
                {
                    var r = lab.Udp(src, 40000, dst, cell.Port, Payload(n), pass ? ArriveWithin : DropWait);
                    if (pass)
                    {
                        Assert.True(r.Delivered, $"{cell}: {n}-byte datagram: {r}");
                        Assert.Equal(new IPEndPoint(src, 40000), r.ReceivedFrom);
                    }
                    else
                    {
                        Assert.False(r.Arrived, $"{cell}: {n}-byte datagram: {r}");
                    }
                }
                return null;
            }
            case (RuleAction.Pass or RuleAction.Drop, L4.Icmp):
            {
                bool pass = cell.Action == RuleAction.Pass;
                foreach (int n in Sizes)
                {
                    var r = lab.Ping(src, dst, pass ? ArriveWithin : DropWait, n);
                    Assert.True(r.Replied == pass, $"{cell}: echo with {n} bytes: {r}");
                }
                return null;
            }
            default:
            {
                var frames = Sizes.Select((n, i) => Fw.Lab.Lab.FromClient(cell.Crafted(i, n))).ToArray();
                lab.SendFromClient(frames);
                return [.. frames.Select(f => f.Build())];
            }
        }
    }

    /// <summary>The cell's rule and its action's total moved by exactly what c0 sent; no other counter moved.</summary>
    private static void AssertCounted(Cell cell, StatsSnapshot before, StatsSnapshot after, IReadOnlyList<CapturedFrame> sent)
    {
        var expected = new Count((ulong)sent.Count, (ulong)sent.Sum(f => (long)f.Bytes.Length));
        var zero = default(Count);
        Assert.Equal(before.Generation, after.Generation);
        foreach (var (b, a) in before.Rules.Zip(after.Rules))
            Assert.True((b.Name == cell.Rule ? expected : zero) == a.Counter.Total - b.Counter.Total,
                $"{cell}: rule {a.Name} moved by {a.Counter.Total - b.Counter.Total}; c0 sent {expected} of the flow, for {cell.Rule}");
        Assert.Contains(after.Rules, r => r.Name == cell.Rule && r.Action == cell.Action);
        foreach (var (name, action, b, a) in new[]
        {
            ("pass", RuleAction.Pass, before.Pass, after.Pass),
            ("drop", RuleAction.Drop, before.Drop, after.Drop),
            ("redirect", RuleAction.Redirect, before.Redirect, after.Redirect),
        })
        {
            Assert.True((action == cell.Action ? expected : zero) == a.Total - b.Total,
                $"{cell}: the {name} total moved by {a.Total - b.Total}; c0 sent {expected}");
        }
        foreach (var (name, b, a) in new[]
        {
            ("default", before.Default, after.Default), ("malformed", before.Malformed, after.Malformed),
            ("non-ip", before.NonIp, after.NonIp), ("no-ruleset", before.NoRuleset, after.NoRuleset),
            ("redirect-errors", before.RedirectErrors, after.RedirectErrors),
        })
        {
            Assert.True(zero == a.Total - b.Total, $"{cell}: the {name} counter moved by {a.Total - b.Total}");
        }
    }

    /// <summary>
    /// A frame c0 sent as s0 should receive it after the fw namespace routed it: fw1's MAC to s0's, TTL or hop
    /// limit one less, the rest unchanged (the IPv4 header checksum is left out: <see cref="Received"/>).
    /// </summary>
    private static string Routed(byte[] sent)
    {
        var f = (byte[])sent.Clone();
        MacBytes(LabNet.ServerMac).CopyTo(f, 0);
        MacBytes(LabNet.FwServerMac).CopyTo(f, 6);
        bool v6 = f[12] == 0x86 && f[13] == 0xdd;
        f[14 + (v6 ? 7 : 8)]--;
        return WithoutIpv4Checksum(f);
    }

    /// <summary>A frame s0 received, its IPv4 header checksum checked and then left out.</summary>
    private static string Received(CapturedFrame got)
    {
        Assert.True(got.Parsed.Ipv4?.ChecksumOk ?? true, $"bad IPv4 header checksum: {got}");
        return WithoutIpv4Checksum(got.Bytes);
    }

    private static string WithoutIpv4Checksum(byte[] frame)
    {
        var f = (byte[])frame.Clone();
        if (f[12] == 0x08 && f[13] == 0x00)
            f[24] = f[25] = 0;
        return FrameHex.Format(f);
    }

    private static byte[] MacBytes(string mac) => Convert.FromHexString(mac.Replace(":", ""));

    private static byte[] Payload(int n) => Enumerable.Range(0, n).Select(i => (byte)(i + 1)).ToArray();

    private static string Describe(IReadOnlyList<CapturedFrame> frames) =>
        frames.Count == 0 ? "nothing" : $"{frames.Count} frames: " + string.Join("; ", frames.Select(f => f.ToString()));

    /// <summary>
    /// One cell: its rule (named tcp4-pass, udp6-redirect, ...) matches only its flow, from a client address to
    /// the server's, by destination port (TCP, UDP) or ICMP type and source address (ICMP: echo requests from the
    /// client's first address pass and from its second drop; another type is redirected).
    /// </summary>
    internal sealed record Cell(RuleAction Action, Family Family, L4 Proto)
    {
        public static readonly IReadOnlyList<Cell> All =
            [.. from p in Enum.GetValues<L4>() from f in Enum.GetValues<Family>() from a in Enum.GetValues<RuleAction>() select new Cell(a, f, p)];

        private bool V6 => Family == Family.V6;

        public string Rule => $"{Proto.ToString().ToLowerInvariant()}{(V6 ? 6 : 4)}-{Action.ToString().ToLowerInvariant()}";

        public IPAddress Src => (Proto, Action, V6) switch
        {
            (L4.Icmp, RuleAction.Drop, false) => LabNet.ClientOtherV4,
            (L4.Icmp, RuleAction.Drop, true) => LabNet.ClientOtherV6,
            (_, _, false) => LabNet.ClientV4,
            _ => LabNet.ClientV6,
        };

        public IPAddress Dst => V6 ? LabNet.ServerV6 : LabNet.ServerV4;

        /// <summary>TCP and UDP: the rule's destination port, one per cell.</summary>
        public ushort Port => (ushort)(7000 + 100 * (int)Proto + 10 * (int)Family + (int)Action);

        /// <summary>ICMP: echo request, or for redirect a request no host answers (address mask; node information query).</summary>
        public byte IcmpType => (Action, V6) switch
        {
            (RuleAction.Redirect, false) => 17,
            (RuleAction.Redirect, true) => 139,
            (_, false) => 8,
            _ => 128,
        };

        private byte IpProto => Proto switch { L4.Tcp => 6, L4.Udp => 17, _ => V6 ? (byte)58 : (byte)1 };

        public string Yaml(string sinkIf)
        {
            var y = new StringBuilder();
            y.Append($"  - name: {Rule}\n    src: \"{Src}\"\n    dst: \"{Dst}\"\n");
            y.Append(Proto == L4.Icmp
                ? $"    proto: {(V6 ? "icmpv6" : "icmp")}\n    icmp_type: {IcmpType}\n"
                : $"    proto: {Proto.ToString().ToLowerInvariant()}\n    dport: {Port}\n");
            y.Append($"    action: {Action.ToString().ToLowerInvariant()}\n");
            if (Action == RuleAction.Redirect)
                y.Append($"    to: {sinkIf}\n");
            return y.ToString();
        }

        /// <summary>Whether the client's frame belongs to this cell's flow (what its rule matches).</summary>
        public bool IsFlow(ParsedFrame f)
        {
            var (s, d, p) = f.Ipv4 is { } v4 ? (v4.Src, v4.Dst, v4.Protocol) : f.Ipv6 is { } v6 ? (v6.Src, v6.Dst, v6.Protocol) : (null, null, (byte)0);
            if (s is null || !s.Equals(Src) || !d!.Equals(Dst) || p != IpProto || f.Problem is not null)
                return false;
            return Proto switch
            {
                L4.Tcp => f.Tcp?.DstPort == Port,
                L4.Udp => f.Udp?.DstPort == Port,
                _ => f.Icmp?.Type == IcmpType,
            };
        }

        /// <summary>The <paramref name="i"/>th crafted frame of the flow, with <paramref name="payload"/> bytes after its header.</summary>
        public Frame Crafted(int i, int payload)
        {
            ushort sport = (ushort)(41000 + i);
            var frame = Proto switch
            {
                L4.Tcp => Frame.Tcp(Src, Dst, sport, Port, i == 0 ? TcpFlags.Syn : TcpFlags.Ack | TcpFlags.Psh),
                L4.Udp => Frame.Udp(Src, Dst, sport, Port),
                _ => V6 ? Frame.Icmpv6(Src, Dst, IcmpType) : Frame.Icmp(Src, Dst, IcmpType),
            };
            return frame.WithPayload(payload);
        }

        public override string ToString() => $"{Rule} ({Src} -> {Dst})";
    }

    internal static string RulesYaml(string sinkIf) =>
        "default: pass\nmalformed: drop\nnon_ip: pass\nrules:\n" + string.Concat(Cell.All.Select(c => c.Yaml(sinkIf)));
}

/// <summary>One lab for all the cells, with fw attached to its fw0 by <see cref="EndToEndTests.RulesYaml"/>; removed at the end.</summary>
public sealed class EndToEndLab : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fw-e2e-").FullName;

    public EndToEndLab()
    {
        try
        {
            Lab = new Fw.Lab.Lab(LabNaming.Unique);
            string path = Path.Combine(_dir, "rules.yaml");
            File.WriteAllText(path, EndToEndTests.RulesYaml(Lab.FwSinkIf));
            var lab = Lab;
            lab.Fw.Run(() =>
            {
                // Inside the fw namespace: the redirect target fw2 resolves there, and fw attaches to its fw0.
                var check = RulesCheck.Check(path);
                if (!check.Ok)
                    throw new InvalidOperationException(string.Join("\n", check.Diagnostics));
                var attached = Deployment.Attach(lab.FwClientIf, check, XdpMode.Native);
                if (attached.Mode != XdpMode.Native)
                    throw new InvalidOperationException($"attached in {attached.Mode} mode, not native");
            });
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public Fw.Lab.Lab Lab { get; } = null!;

    public void Dispose()
    {
        Lab?.Dispose();   // removes its veths (which detaches fw) and fw's pins of them
        Directory.Delete(_dir, recursive: true);
    }
}
