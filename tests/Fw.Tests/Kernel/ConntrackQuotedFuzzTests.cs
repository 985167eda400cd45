using System.Diagnostics;
using System.Text;
using Fw.Bpf;
using Fw.Compiler;
using Fw.Kernel;
using Fw.Packets;
using Fw.Rules;
using Fw.Testing.Reference;
using Xunit.Abstractions;

namespace Fw.Tests.Kernel;

/// <summary>
/// The quoted-header parser of the flow table (fw_ct_quoted_key in bpf/fw_conntrack.h) under generated ICMP and
/// ICMPv6 errors: types 3, 11, 12 (IPv4) and 1-4 (IPv6) and other types, quoting packets of flows the table holds
/// (as they left, or the other way), near misses and no flow at all, valid and mutated (IP version 0-15, IHL 0-15,
/// fragments, IPv4 options, IPv6 extension headers, the other family's header, truncated at every length, bytes
/// changed), untagged or behind one or two VLAN tags, the outer header with options, extension headers or as a
/// fragment. Each goes through BPF_PROG_TEST_RUN against a table that egress frames filled, beside
/// <see cref="ReferenceFlowTable"/> fed the same: verdict, reason and rule must be equal (related passes by its
/// rule, established drops by its own, new by the default). The edge cases also check the contract directly.
/// Fixed seeds: a failure names its seed and case, and prints the frame.
/// </summary>
public class ConntrackQuotedFuzzTests(ITestOutputHelper output)
{
    private const string Policy = """
        default: drop
        rules:
          - name: related
            state: related
            action: pass
          - name: established
            state: established
            action: drop
        """;

    private const int CasesPerSeed = 1_500;

    private const string Local4 = "192.0.2.10", Peer4 = "198.18.0.1", Other4 = "198.18.0.2", Router4 = "198.19.255.1";
    private const string Local6 = "2001:db8::10", Peer6 = "2001:db8:1::1", Other6 = "2001:db8:1::2", Router6 = "2001:db8:ff::1";

    /// <summary>A flow the table holds: this host (local) sent its first packet to <paramref name="Peer"/>.</summary>
    /// <param name="Proto">6, 17, the family's ICMP (an echo; the ports are its identifier) or 47 (ports 0).</param>
    private sealed record FlowSpec(bool V6, byte Proto, ushort LocalPort, ushort PeerPort, string Peer)
    {
        public string Local => V6 ? Local6 : Local4;

        public byte Icmp => V6 ? (byte)58 : (byte)1;

        public string Kind => Proto switch { 6 => "tcp", 17 => "udp", 47 => "gre", _ => "echo" } + (V6 ? "6" : "4");

        /// <summary>A packet of the flow from <paramref name="src"/> to <paramref name="dst"/> (which end is whose: the caller's).</summary>
        public Frame Packet(string src, string dst, ushort sport, ushort dport, byte? icmpType = null) => Proto switch
        {
            6 => Frame.Tcp(src, dst, sport, dport, TcpFlags.Syn),
            17 => Frame.Udp(src, dst, sport, dport),
            47 => Frame.Ip(src, dst, 47, [0, 0, 0x08, 0x00, 1, 2, 3, 4]),
            _ => (V6 ? Frame.Icmpv6(src, dst, icmpType ?? 128) : Frame.Icmp(src, dst, icmpType ?? 8))
                .WithIcmp(h => h with { Rest = (uint)sport << 16 | 1 }),
        };

        /// <summary>The packet that made the flow: it left this host.</summary>
        public Frame Leaving() => Packet(Local, Peer, LocalPort, PeerPort);
    }

    private static readonly FlowSpec[] Flows =
    [
        new(false, 6, 40000, 443, Peer4),
        new(false, 17, 40001, 53, Peer4),
        new(false, 1, 0x1234, 0x1234, Peer4),
        new(false, 47, 0, 0, Other4),
        new(true, 6, 40000, 443, Peer6),
        new(true, 17, 40001, 53, Peer6),
        new(true, 58, 0x5678, 0x5678, Peer6),
        new(true, 47, 0, 0, Other6),
    ];

    /// <summary>Whole seconds of CLOCK_MONOTONIC, the clock the data plane counts in (its coarse reading).</summary>
    private static long Now() => Stopwatch.GetTimestamp() / Stopwatch.Frequency;

    /// <summary>A classifier and the egress program on one table, the reference table beside them, filled with <see cref="Flows"/>.</summary>
    private sealed class Bench : IDisposable
    {
        private readonly BpfObject _egress;

        public Bench()
        {
            Rules = Fw.Tests.Rules.RulesTestKit.ParseOk(Policy);
            var image = RulesetCompiler.Compile(Rules);
            Assert.True(image.Fields.HasFlag(FieldMask.State));
            Classifier = Classifier.Load(image, new ClassifierOptions { Trace = true });
            try
            {
                _egress = BpfObject.Open(EgressTracker.ObjectPath);
                _egress.ReuseMap(Classifier.ConntrackMap, Classifier.Map(Classifier.ConntrackMap));
                _egress.Load();
            }
            catch
            {
                Classifier.Dispose();
                throw;
            }
            Table = new ReferenceFlowTable(Rules.Conntrack);
            int egressFd = _egress.ProgramFd(EgressTracker.Program);
            foreach (var f in Flows)
            {
                byte[] leaving = f.Leaving().Build();
                Assert.Equal(0u, (uint)BpfObject.TestRun(egressFd, leaving).Verdict);   // TC_ACT_OK
                Table.Egress(leaving, Now());
            }
            Assert.Equal(Flows.Length, Table.Flows.Count);
        }

        public Ruleset Rules { get; }
        public Classifier Classifier { get; }
        public ReferenceFlowTable Table { get; }
        public readonly Dictionary<string, int> Tally = [];

        public void Count(string key) => Tally[key] = Tally.GetValueOrDefault(key) + 1;

        /// <summary>
        /// Runs one frame through both and compares; returns the reference's state of it (null for a frame that is
        /// not an IP packet to classify).
        /// </summary>
        public ConnState? Check(byte[] frame, string what)
        {
            var parsed = ReferenceEvaluator.Parse(frame);
            ConnState? state = null;
            if (parsed.Kind == FrameKind.Ip)
                state = Table.StateOf(parsed, frame, Now(), out _);
            var want = Table.Evaluate(Rules, frame, Now());
            var got = Classifier.TestRun(frame);
            var trace = Classifier.ReadTrace();
            bool agree = DifferentialTests.Agrees(want, got.Verdict, trace);
            Assert.True(agree,
                $"{what}: kernel {got.Verdict} ({(FwReason)trace.Reason}, rule {(int)trace.Rule}), reference {want} (state {state?.ToString() ?? "-"})\n"
                + $"  parsed: {parsed}\n  frame ({frame.Length} bytes): {Convert.ToHexString(frame)}");
            Count(parsed.Kind == FrameKind.Ip ? state!.Value.ToString() : parsed.Kind.ToString());
            return state;
        }

        public void Dispose()
        {
            _egress?.Dispose();
            Classifier.Dispose();
        }
    }

    // ---- The edges, each with the contract's answer -----------------------------------------------

    /// <summary>
    /// Every edge of the quoted header, for each flow kind of both families, untagged and tagged: the error is
    /// related exactly when the contract says (and the reference agrees). A quote truncated at every length is
    /// related from the IP header and 8 transport bytes on; IP version 0-15 (only the error's family); IHL 0-15
    /// (under 5 never; 6-15 with their options, always); a non-first fragment never, a first one (MF) always;
    /// the quote as it left and the other way round; an IPv6 quote with an extension header never; the other
    /// family's header never; errors of every type, related only for 3, 11, 12 and ICMPv6 1-4.
    /// </summary>
    [Fact]
    public void QuotedHeaderEdgesAreRelatedExactlyWhenTheContractSaysSo()
    {
        using var b = new Bench();
        int cases = 0;
        void ExpectState(ConnState state, byte[] frame, string what)
        {
            var st = b.Check(frame, what);
            Assert.True(st == state, $"{what}: reference state {st?.ToString() ?? "none"}, the contract says {state}");
            cases++;
        }
        void Expect(bool related, byte[] frame, string what) => ExpectState(related ? ConnState.Related : ConnState.New, frame, what);

        foreach (var f in Flows)
        {
            foreach (int tags in new[] { 0, 1, 2 })
            {
                string at = $"{f.Kind}, {tags} VLAN tags";
                byte[] q = Inner(f.Leaving().WithPayload(16));
                int ipLen = f.V6 ? 40 : 20;

                // Truncated at every length, up to the whole packet.
                for (int n = 0; n <= q.Length; n++)
                    Expect(n >= ipLen + 8, Error(f.V6, q[..n], tags), $"{at}: quote cut to {n} bytes");

                // The other direction of the same flow, and a near miss (another port or identifier; another peer).
                Expect(true, Error(f.V6, Inner(f.Packet(f.Peer, f.Local, f.PeerPort, f.LocalPort, f.Proto is 1 or 58 ? (byte)(f.V6 ? 128 : 8) : null)), tags), $"{at}: quoting the flow's other direction");
                if (f.Proto != 47)
                    Expect(false, Error(f.V6, Inner(f.Packet(f.Local, f.Peer, (ushort)(f.LocalPort + 1), f.Proto is 1 or 58 ? (ushort)(f.PeerPort + 1) : f.PeerPort)), tags), $"{at}: quoting another port");
                Expect(false, Error(f.V6, Inner(f.Packet(f.Local, f.V6 ? Router6 : Router4, f.LocalPort, f.PeerPort)), tags), $"{at}: quoting another peer");

                // The IP version nibble: only the error's family's.
                for (int version = 0; version < 16; version++)
                {
                    byte[] v = (byte[])q.Clone();
                    v[0] = (byte)(version << 4 | (v[0] & 0x0f));
                    Expect(version == (f.V6 ? 6 : 4), Error(f.V6, v, tags), $"{at}: quoted version {version}");
                }

                // Every error type of the family, and others that quote nothing.
                for (int type = 0; type < 256; type += type < 20 ? 1 : 17)
                {
                    bool error = f.V6 ? type is >= 1 and <= 4 : type is 3 or 11 or 12;
                    // Echo requests and replies (0, 8; 128, 129) are no errors: echoes with identifier 1, no flow's.
                    Expect(error, Error(f.V6, q, tags, (byte)type), $"{at}: ICMP{(f.V6 ? "v6" : "")} type {type}");
                }

                if (f.Proto is 1 or 58)
                {
                    // The echo itself, from the peer: its reply is established; a request never is; the other
                    // family's echo types (ICMPv6 128 and 129 in IPv4, ICMP 8 and 0 in ICMPv6) are no echo at all.
                    byte request = f.V6 ? (byte)128 : (byte)8, reply = f.V6 ? (byte)129 : (byte)0;
                    byte otherRequest = f.V6 ? (byte)8 : (byte)128, otherReply = f.V6 ? (byte)0 : (byte)129;
                    ExpectState(ConnState.Established, Tag(f.Packet(f.Peer, f.Local, f.LocalPort, f.PeerPort, reply), tags).Build(), $"{at}: the echo reply");
                    ExpectState(ConnState.New, Tag(f.Packet(f.Peer, f.Local, f.LocalPort, f.PeerPort, request), tags).Build(), $"{at}: an echo request from the peer");
                    ExpectState(ConnState.New, Tag(f.Packet(f.Peer, f.Local, f.LocalPort, f.PeerPort, otherReply), tags).Build(), $"{at}: type {otherReply} with the echo's identifier");
                    ExpectState(ConnState.New, Tag(f.Packet(f.Peer, f.Local, f.LocalPort, f.PeerPort, otherRequest), tags).Build(), $"{at}: type {otherRequest} with the echo's identifier");
                    // A quote of the echo request: related; of its reply, or of the other family's types: not.
                    foreach (byte t in new[] { request, reply, otherRequest, otherReply })
                        Expect(t == request, Error(f.V6, Inner(f.Packet(f.Local, f.Peer, f.LocalPort, f.PeerPort, t)), tags), $"{at}: quoting type {t} with the echo's identifier");
                }

                if (!f.V6)
                {
                    // IHL: under 5 is no IPv4 header; 6-15 with their options are.
                    for (int ihl = 0; ihl < 16; ihl++)
                    {
                        var quoted = ihl < 5
                            ? f.Leaving().WithIpv4(h => h with { Ihl = ihl })
                            : f.Leaving().WithIpOptions(Enumerable.Repeat((byte)1, (ihl - 5) * 4).ToArray());   // NOPs
                        byte[] o = Inner(quoted);
                        Expect(ihl >= 5, Error(false, o, tags), $"{at}: quoted IHL {ihl}");
                        if (ihl >= 5)
                        {
                            // Cut just before and at the end of the 8 transport bytes after the options.
                            Expect(false, Error(false, o[..(ihl * 4 + 7)], tags), $"{at}: quoted IHL {ihl}, 7 transport bytes");
                            Expect(true, Error(false, o[..(ihl * 4 + 8)], tags), $"{at}: quoted IHL {ihl}, 8 transport bytes");
                        }
                    }
                    // Fragments: a first one (MF, offset 0) has the ports; a non-first one has none.
                    Expect(true, Error(false, Inner(f.Leaving().AsFragment(0, more: true)), tags), $"{at}: quoting a first fragment");
                    Expect(true, Error(false, Inner(f.Leaving().WithIpv4(h => h with { DontFragment = true })), tags), $"{at}: quoting DF");
                    foreach (ushort offset in new ushort[] { 1, 185, 0x1fff })
                        Expect(false, Error(false, Inner(f.Leaving().AsFragment(offset, more: offset != 0x1fff)), tags), $"{at}: quoting a fragment at {offset}");
                    // The other family's header: an IPv6 packet quoted by an ICMP error.
                    Expect(false, Error(false, Inner(Counterpart(f).Leaving()), tags), $"{at}: ICMP quoting IPv6");
                }
                else
                {
                    // An extension header before the transport header: never (the contract quotes none).
                    foreach (var ext in new[] { Ipv6Ext.HopByHop(), Ipv6Ext.DestOptions(), Ipv6Ext.Routing(), Ipv6Ext.Fragment(0, more: true) })
                        Expect(false, Error(true, Inner(f.Leaving().WithExtensions(ext)), tags), $"{at}: quoting IPv6 with extension header {ext.Type}");
                    Expect(false, Error(true, Inner(Counterpart(f).Leaving()), tags), $"{at}: ICMPv6 quoting IPv4");
                }
            }
        }
        output.WriteLine($"{cases:N0} edge cases: " + string.Join(", ", b.Tally.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key} {kv.Value:N0}")));
        Assert.True(b.Tally.GetValueOrDefault("Related") > 500 && b.Tally.GetValueOrDefault("New") > 500);
    }

    // ---- Generated cases --------------------------------------------------------------------------

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void KernelAgreesWithTheReferenceOnGeneratedErrors(int seed)
    {
        using var b = new Bench();
        var rng = new Random(seed);
        var kinds = new Dictionary<string, int>();
        for (int i = 0; i < CasesPerSeed; i++)
        {
            var (frame, detail, tags, flow) = Generate(rng);
            var st = b.Check(frame, $"seed {seed}, case {i} ({detail})");
            if (st is { } s)
                tags.Add($"state {s}");
            if (st == ConnState.Related)
                tags.Add($"related {flow.Kind}");
            foreach (string k in tags)
                kinds[k] = kinds.GetValueOrDefault(k) + 1;
        }
        output.WriteLine($"seed {seed}: {CasesPerSeed:N0} frames; " + string.Join(", ", b.Tally.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key} {kv.Value:N0}")));
        foreach (var (k, n) in kinds.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            output.WriteLine($"  {k,-40} {n,6:N0}");

        // Every path reached, often enough to mean something.
        foreach (string k in new[]
        {
            "state Related", "state New", "state Established", "Malformed",
            "quote: valid", "quote: version", "quote: ihl", "quote: cut", "quote: byte", "quote: other family",
            "quote: as it left", "quote: the other way", "quote: near miss", "quote: no flow",
            "quote: options", "quote: first fragment", "quote: non-first fragment", "quote: extension header",
            "outer: error type", "outer: other type", "outer: 0 tags", "outer: 1 tags", "outer: 2 tags",
            "outer: options", "outer: extension header", "outer: first fragment", "outer: non-first fragment", "outer: wrong protocol",
            "outer: echo of a flow",
        })
        {
            int n = k is "Malformed" ? b.Tally.GetValueOrDefault(k) : kinds.GetValueOrDefault(k);
            Assert.True(n >= 10, $"seed {seed}: only {n} cases of \"{k}\"");
        }
        foreach (var f in Flows)
            Assert.True(kinds.GetValueOrDefault($"related {f.Kind}") >= 10, $"seed {seed}: only {kinds.GetValueOrDefault($"related {f.Kind}")} related errors quoting {f.Kind}");
    }

    /// <summary>One generated frame: an ICMP error (mostly) around a quote of a flow (mostly), mutated or not.</summary>
    private static (byte[] Frame, string Detail, List<string> Tags, FlowSpec Flow) Generate(Random rng)
    {
        var tags = new List<string>();
        var d = new StringBuilder();
        var f = Flows[rng.Next(Flows.Length)];
        bool v6 = f.V6;

        // Outer: an echo of a flow now and then (its reply is established; a request from the peer is new).
        if (rng.Next(25) == 0)
        {
            tags.Add("outer: echo of a flow");
            var echo = Flows.First(x => x.V6 == v6 && x.Proto is 1 or 58);
            byte[] echoTypes = v6 ? [129, 128, 0, 8] : [0, 8, 129, 128];   // the family's reply, request; the other's
            byte echoType = echoTypes[rng.Next(echoTypes.Length)];
            var e = echo.Packet(echo.Peer, echo.Local, echo.LocalPort, echo.PeerPort, echoType);
            int vt = rng.Next(3);
            tags.Add($"outer: {vt} tags");
            return (Tag(e, vt).Build(), $"echo type {echoType} of {echo.Kind}", tags, echo);
        }

        // The quoted packet: of a flow (as it left, or the other way), a near miss, or of no flow.
        Frame quoted;
        switch (rng.Next(10))
        {
            case < 5:
                quoted = f.Leaving();
                tags.Add("quote: as it left");
                break;
            case < 7:
                quoted = f.Packet(f.Peer, f.Local, f.PeerPort, f.LocalPort);
                tags.Add("quote: the other way");
                break;
            case < 9:
            {
                tags.Add("quote: near miss");
                quoted = rng.Next(4) switch
                {
                    0 => f.Packet(f.Local, f.Peer, (ushort)(f.LocalPort ^ (1 << rng.Next(16))), f.Proto is 1 or 58 ? (ushort)(f.LocalPort ^ 1) : f.PeerPort),
                    1 => f.Packet(f.Local, f.Peer, f.LocalPort, (ushort)(f.PeerPort + 1)),
                    2 => f.Packet(f.Local, f.Peer == Peer4 ? Other4 : f.Peer == Other4 ? Peer4 : f.Peer == Peer6 ? Other6 : Peer6, f.LocalPort, f.PeerPort),
                    _ => Flows.First(x => x.V6 == v6 && x != f && x.Proto != 47).Packet(f.Local, f.Peer, f.LocalPort, f.PeerPort),   // another protocol
                };
                if (f.Proto == 47)   // GRE has no ports: another peer or protocol is its near miss
                    quoted = rng.Next(2) == 0 ? Frame.Ip(f.Local, v6 ? Peer6 : Peer4, 47, [0, 0, 8, 0]) : Frame.Ip(f.Local, f.Peer, 50, [0, 0, 1, 0, 0, 0, 0, 1]);
                break;
            }
            default:
                tags.Add("quote: no flow");
                quoted = Frame.Udp(v6 ? Router6 : Router4, v6 ? Other6 : Other4, (ushort)rng.Next(65536), (ushort)rng.Next(65536));
                break;
        }
        // An echo quote of another type now and then (only the family's echo request is a flow's quote).
        if (f.Proto is 1 or 58 && rng.Next(3) == 0 && quoted.Transport is IcmpHeader)
        {
            byte[] types = [0, 8, 128, 129, 3, 13, (byte)rng.Next(256)];
            byte t = types[rng.Next(types.Length)];
            quoted = quoted.WithIcmp(h => h with { Type = t });
            d.Append($"quoted icmp type {t}; ");
        }
        d.Append($"{f.Kind} ");

        // The quote's own shape.
        if (!v6 && rng.Next(6) == 0)
        {
            int words = rng.Next(1, 11);
            quoted = quoted.WithIpOptions(Enumerable.Repeat((byte)1, words * 4).ToArray());
            tags.Add("quote: options");
            d.Append($"options {words * 4}; ");
        }
        switch (rng.Next(14))
        {
            case 0:
                quoted = quoted.AsFragment(0, more: true);
                tags.Add("quote: first fragment");
                break;
            case 1:
                quoted = quoted.AsFragment((ushort)rng.Next(1, 0x2000), more: rng.Next(2) == 0);
                tags.Add("quote: non-first fragment");
                break;
            case 2 when v6:
                quoted = quoted.WithExtensions(rng.Next(3) switch { 0 => Ipv6Ext.HopByHop(), 1 => Ipv6Ext.DestOptions(), _ => Ipv6Ext.Fragment(0, true) });
                tags.Add("quote: extension header");
                break;
        }
        if (quoted.Transport is not null)   // (a GRE quote's payload is its transport header)
            quoted = quoted.WithPayload(rng.Next(3) == 0 ? 0 : rng.Next(1, 64));
        byte[] q = Inner(quoted);
        // What a router quotes: RFC 792's IP header + 8 bytes, or as much as fits (RFC 1812, RFC 4443).
        if (rng.Next(2) == 0)
            q = q[..Math.Min(q.Length, (v6 ? 40 : (q[0] & 0x0f) * 4) + 8)];

        // A mutation of the quote, or none.
        bool errorV6 = v6;
        switch (rng.Next(10))
        {
            case 0:
            {
                int version = rng.Next(16);
                q[0] = (byte)(version << 4 | (q[0] & 0x0f));
                tags.Add("quote: version");
                d.Append($"quoted version {version}; ");
                break;
            }
            case 1 when !v6:
            {
                int ihl = rng.Next(16);
                q[0] = (byte)(0x40 | ihl);
                tags.Add("quote: ihl");
                d.Append($"quoted ihl nibble {ihl}; ");
                break;
            }
            case 2:
            case 3:
            {
                int n = rng.Next(q.Length + 1);
                q = q[..n];
                tags.Add("quote: cut");
                d.Append($"quote cut to {n}; ");
                break;
            }
            case 4:
            {
                int at = rng.Next(Math.Min(q.Length, v6 ? 48 : 28));
                byte value = (byte)rng.Next(256);
                if (q.Length > 0)
                    q[at] = value;
                tags.Add("quote: byte");
                d.Append($"quote byte {at} = 0x{value:x2}; ");
                break;
            }
            case 5:
                errorV6 = !v6;
                tags.Add("quote: other family");
                d.Append("the other family's error; ");
                break;
            default:
                tags.Add("quote: valid");
                break;
        }
        // The error around it.
        byte type;
        if (rng.Next(4) != 0)
        {
            byte[] errors = errorV6 ? [1, 2, 3, 4] : [3, 11, 12];
            type = errors[rng.Next(errors.Length)];
            tags.Add("outer: error type");
        }
        else
        {
            byte[] others = errorV6 ? [0, 5, 11, 12, 127, 128, 129, 135, 136, (byte)rng.Next(256)] : [0, 1, 2, 4, 5, 8, 13, 128, 129, (byte)rng.Next(256)];
            type = others[rng.Next(others.Length)];
            tags.Add("outer: other type");
        }
        byte code = (byte)rng.Next(rng.Next(4) == 0 ? 256 : 5);
        string local = errorV6 ? Local6 : Local4;
        string router = rng.Next(3) == 0 ? (errorV6 ? Peer6 : Peer4) : (errorV6 ? Router6 : Router4);
        Frame outer;
        if (rng.Next(30) == 0)
        {
            // The other family's ICMP protocol number: not an ICMP message of this family at all.
            byte[] icmp = [type, code, 0, 0, 0, 0, 0x05, 0xdc, .. q];
            outer = Frame.Ip(router, local, errorV6 ? (byte)1 : (byte)58, icmp);
            tags.Add("outer: wrong protocol");
        }
        else
        {
            outer = (errorV6 ? Frame.Icmpv6(router, local, type, code) : Frame.Icmp(router, local, type, code))
                .WithIcmp(h => h with { Rest = type is 2 or 3 ? 1280u : 0u })
                .WithPayload(q);
        }
        switch (rng.Next(20))
        {
            case 0 when !errorV6:
                outer = outer.WithIpOptions(Enumerable.Repeat((byte)1, 4 * rng.Next(1, 11)).ToArray());
                tags.Add("outer: options");
                break;
            case 0:
                outer = outer.WithExtensions(rng.Next(2) == 0 ? Ipv6Ext.HopByHop() : Ipv6Ext.DestOptions(16));
                tags.Add("outer: extension header");
                break;
            case 1:
                outer = outer.AsFragment(0, more: true);
                tags.Add("outer: first fragment");
                break;
            case 2:
                outer = outer.AsFragment((ushort)rng.Next(1, 200), more: rng.Next(2) == 0);
                tags.Add("outer: non-first fragment");
                break;
        }
        int vlan = rng.Next(10) switch { < 6 => 0, < 9 => 1, _ => 2 };
        tags.Add($"outer: {vlan} tags");
        outer = Tag(outer, vlan);
        byte[] frame = outer.Build();
        if (rng.Next(40) == 0)
        {
            // Cut inside the outer ICMP header: malformed, before any flow is looked at.
            var layout = outer.Layout();
            int cut = layout.TransportOffset > 0 ? layout.TransportOffset + rng.Next(8) : frame.Length;
            frame = frame[..Math.Min(cut, frame.Length)];
            d.Append($"outer cut to {frame.Length}; ");
        }
        d.Append($"ICMP{(errorV6 ? "v6" : "")} type {type} code {code}");
        return (frame, d.ToString(), tags, f);
    }

    /// <summary>The flow of the same kind in the other family.</summary>
    private static FlowSpec Counterpart(FlowSpec f) => Flows.Single(x => x.V6 != f.V6 && x.Kind[..^1] == f.Kind[..^1]);

    private static Frame Tag(Frame f, int tags) => tags switch
    {
        0 => f,
        1 => f.WithVlan(100),
        _ => f.WithQinQ(10, 20),
    };

    /// <summary>The IP packet of an untagged frame: what an ICMP error quotes.</summary>
    private static byte[] Inner(Frame f) => f.Build()[14..];

    /// <summary>An error from a router to this host quoting <paramref name="quote"/>: destination unreachable unless told.</summary>
    private static byte[] Error(bool v6, byte[] quote, int tags, byte? type = null)
    {
        byte t = type ?? (v6 ? (byte)1 : (byte)3);
        var e = v6 ? Frame.Icmpv6(Router6, Local6, t, 4) : Frame.Icmp(Router4, Local4, t, 1);
        return Tag(e.WithPayload(quote), tags).Build();
    }
}
