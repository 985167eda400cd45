using System.Diagnostics;
using System.Net;
using Fw.Packets;
using Fw.Rules;
using Fw.Testing.Random;
using Fw.Testing.Reference;
using PacketDotNet;
using Xunit.Abstractions;

namespace Fw.Tests.Packets;

/// <summary>
/// Three decoders read the same frames: the rules contract's own parser (<see cref="ReferenceEvaluator.Parse(ReadOnlySpan{byte})"/>,
/// which defines malformed, the oracle of the kernel tests), PacketDotNet (which builds the frames and decodes them
/// for display) and tshark. On every frame the contract reads as IP they agree on the family, the addresses, the
/// protocol and the ports, and on every non-IP frame that there is no IP header; the frames where they may not are
/// the contract's documented differences (<see cref="Differences"/>), each of which the corpus must reach.
/// The corpus: the tests' frame generator over several rulesets (VLAN tags, options, extension chains, fragments,
/// truncations, wrong IHLs and versions, non-IP) and a list of odd frames.
/// </summary>
public class DecoderCrossCheckTests(ITestOutputHelper output)
{
    /// <summary>Where the contract and another decoder part, by design; what each means.</summary>
    public static readonly IReadOnlyDictionary<string, string> Differences = new Dictionary<string, string>
    {
        ["malformed"] = "the contract calls the frame malformed (a third VLAN tag, a ninth extension header, a cut header, "
            + "IHL under 5, a version disagreeing with its EtherType): the others decode what they can, or stop elsewhere",
        ["ah"] = "an IPv6 authentication header: PacketDotNet 1.4.8 sizes it (len + 1) * 8 bytes, not (len + 2) * 4, and "
            + "misplaces what follows it (tshark agrees with the contract)",
        ["chain"] = "an IPv6 extension chain of two headers or more: PacketDotNet 1.4.8 reads every header of a chain at the "
            + "first one's offset, so it misreads the later ones' lengths, fragment offsets and next headers (tshark agrees "
            + "with the contract)",
        ["pdn extension"] = "an IPv6 next header of 98, 135, 139, 140, 253 or 254: PacketDotNet reads it as an extension header, "
            + "the contract as the protocol (tshark agrees with the contract's protocol)",
        ["fragment mid-chain"] = "a non-first IPv6 fragment header followed by another extension header: the contract stops "
            + "at the fragment (what follows is data), PacketDotNet walks on through the data",
        ["qinq 0x9100"] = "EtherType 0x9100: PacketDotNet and tshark read an old QinQ tag, the contract a non-IP frame",
    };

    sealed record View(string Family, string? Src, string? Dst, int? Proto, int? SrcPort, int? DstPort, int? IcmpType)
    {
        public static readonly View None = new("none", null, null, null, null, null, null);
    }

    [Fact]
    public void ContractPacketDotNetAndTsharkAgree()
    {
        var corpus = Corpus();
        var tshark = Tshark(corpus.Select(c => c.Bytes).ToList());
        var reached = new Dictionary<string, int>();
        int compared = 0;
        var failures = new List<string>();
        for (int i = 0; i < corpus.Count; i++)
        {
            var (name, bytes, frame) = corpus[i];
            var own = ReferenceEvaluator.Parse(bytes);
            string? difference = Difference(bytes, own);
            if (difference is not null)
            {
                reached[difference] = reached.GetValueOrDefault(difference) + 1;
                if (difference is not ("malformed" or "qinq 0x9100"))   // PacketDotNet's own: tshark still agrees
                    Check(failures, name, bytes, "tshark", Own(own), tshark[i], ports: true);
                continue;
            }
            compared++;
            Check(failures, name, bytes, "PacketDotNet", Own(own), PacketDotNetView(bytes), ports: true);
            Check(failures, name, bytes, "tshark", Own(own), tshark[i], ports: true);
        }
        output.WriteLine($"{corpus.Count:N0} frames: {compared:N0} compared three ways; documented differences: "
            + string.Join(", ", Differences.Keys.Select(k => $"{k} {reached.GetValueOrDefault(k):N0}")));
        Assert.True(failures.Count == 0, $"{failures.Count} disagreements:\n{string.Join("\n", failures.Take(20))}");
        Assert.True(compared > 2_000, $"only {compared} frames compared");
        foreach (string d in Differences.Keys)
            Assert.True(reached.GetValueOrDefault(d) > 0, $"the corpus reached no frame of the documented difference '{d}'");
    }

    /// <summary>The documented difference a frame falls under, or null: then all three must agree.</summary>
    static string? Difference(byte[] b, PacketFields own)
    {
        if (own.Kind == FrameKind.Malformed)
            return "malformed";
        int at = 12;
        while (at + 2 <= b.Length && (b[at] << 8 | b[at + 1]) is 0x8100 or 0x88a8)
            at += 4;
        if (own.Kind == FrameKind.NonIp)
            return at + 2 <= b.Length && (b[at] << 8 | b[at + 1]) == 0x9100 ? "qinq 0x9100" : null;
        if (own.Family != IpFamily.V6)
            return null;
        // The chain as the contract walks it, and PacketDotNet's extra "extension headers" where it ends.
        int cur = at + 2 + 40;
        byte next = b[at + 2 + 6];
        for (int n = 0; next is 0 or 43 or 44 or 60 or 51 && n < 9; n++)
        {
            if (next == 51)
                return "ah";
            if (n == 1)
                return "chain";
            if (next == 44 && (b[cur + 2] << 8 | b[cur + 3]) >> 3 != 0)
                return b[cur] is 0 or 43 or 44 or 60 or 51 or 98 or 135 or 139 or 140 or 253 or 254 ? "fragment mid-chain" : null;
            int length = next == 44 ? 8 : (b[cur + 1] + 1) * 8;
            next = b[cur];
            cur += length;
        }
        return next is 98 or 135 or 139 or 140 or 253 or 254 ? "pdn extension" : null;
    }

    static View Own(PacketFields p)
    {
        if (p.Kind != FrameKind.Ip)
            return View.None;
        var family = p.Family == IpFamily.V4 ? "ipv4" : "ipv6";
        string Address(UInt128 bits) => IpPrefix.Create(p.Family, bits, p.Family == IpFamily.V4 ? 32 : 128).ToIPAddress().ToString();
        return new View(family, Address(p.Src), Address(p.Dst), p.Proto, p.SrcPort, p.DstPort, p.IcmpType);
    }

    static View PacketDotNetView(byte[] bytes)
    {
        try
        {
            var packet = Packet.ParsePacket(LinkLayers.Ethernet, (byte[])bytes.Clone());
            var ip = packet.Extract<IPPacket>();
            if (ip is null)
                return View.None;
            // Only the four transports the contract reads: PacketDotNet also decodes tunnels (4, 41, 47), and throws on
            // random bytes there.
            var payload = (int)ip.Protocol is 1 or 6 or 17 or 58 ? ip.PayloadPacket : null;
            var transport = payload as TransportPacket;
            int? icmp = payload switch
            {
                IcmpV4Packet v4 when ip is IPv4Packet => (ushort)v4.TypeCode >> 8,
                IcmpV6Packet v6 when ip is IPv6Packet => (int)v6.Type,
                _ => null,
            };
            return new View(ip is IPv4Packet ? "ipv4" : "ipv6", ip.SourceAddress.ToString(), ip.DestinationAddress.ToString(),
                (int)ip.Protocol, transport?.SourcePort, transport?.DestinationPort, icmp);
        }
        catch (Exception e) when (e is IndexOutOfRangeException or InvalidOperationException or ArgumentException)
        {
            return View.None with { Family = $"error: {e.Message}" };
        }
    }

    /// <param name="ports">Compare ports and ICMP types where the contract reads them.</param>
    static void Check(List<string> failures, string name, byte[] bytes, string who, View own, View other, bool ports)
    {
        bool same = own.Family == other.Family && own.Src == other.Src && own.Dst == other.Dst
            && (other.Proto is null || own.Proto == other.Proto)
            && (!ports || own.SrcPort is null || (own.SrcPort, own.DstPort) == (other.SrcPort, other.DstPort))
            && (!ports || own.IcmpType is null || own.IcmpType == other.IcmpType);
        if (!same)
            failures.Add($"{name}: contract {own}, {who} {other}\n  {FrameHex.Format(bytes)}");
    }

    // ---- The corpus --------------------------------------------------------------------------------

    static List<(string Name, byte[] Bytes, Fw.Packets.Frame? Frame)> Corpus()
    {
        var corpus = new List<(string, byte[], Fw.Packets.Frame?)>();
        for (int seed = 1; seed <= 6; seed++)
        {
            var rs = RulesLoader.Parse(RulesetGenerator.Generate(seed), $"cross-{seed}.yaml", Path.GetTempPath()).Ruleset!;
            var generator = new FrameGenerator(rs, seed);
            for (int i = 0; i < 600; i++)
            {
                var (bytes, frame) = generator.NextFrame();
                corpus.Add(($"seed {seed} frame {i}", bytes, frame));
            }
        }
        const string A = "198.51.100.7", B = "192.0.2.10", A6 = "2001:db8::1", B6 = "2001:db8::2";
        var odd = new Dictionary<string, Fw.Packets.Frame>
        {
            ["ah then tcp"] = Fw.Packets.Frame.Tcp(A6, B6, 1000, 22).WithExtensions(Ipv6Ext.Ah(12)),
            ["hop, ah, dest then udp"] = Fw.Packets.Frame.Udp(A6, B6, 53, 5353).WithExtensions(Ipv6Ext.HopByHop(), Ipv6Ext.Ah(4), Ipv6Ext.DestOptions()),
            ["mobility header"] = Fw.Packets.Frame.Ip(A6, B6, 135, new byte[16]),
            ["hip"] = Fw.Packets.Frame.Ip(A6, B6, 139, new byte[16]),
            ["0x9100 tag"] = Fw.Packets.Frame.Udp(A, B, 1, 2).WithVlan(7, 0x9100),
            ["third tag"] = Fw.Packets.Frame.Udp(A, B, 1, 2).WithVlan(1).WithVlan(2).WithVlan(3),
            ["ninth extension header"] = Fw.Packets.Frame.Udp(A6, B6, 1, 2).WithExtensions(Enumerable.Range(0, 9).Select(_ => Ipv6Ext.DestOptions()).ToArray()),
            ["eight extension headers"] = Fw.Packets.Frame.Udp(A6, B6, 1, 2).WithExtensions(Enumerable.Range(0, 8).Select(_ => Ipv6Ext.HopByHop()).ToArray()),
            ["ihl 4"] = Fw.Packets.Frame.Tcp(A, B, 1, 2).WithIpv4(h => h with { Ihl = 4 }),
            ["v6 under v4 ethertype"] = Fw.Packets.Frame.Tcp(A6, B6, 1, 2).WithEtherType(EtherTypes.Ipv4),
            ["cut tcp"] = Fw.Packets.Frame.Tcp(A, B, 1, 2).Truncated(40),
            ["ipv4 options, first fragment"] = Fw.Packets.Frame.Tcp(A, B, 40000, 443).WithIpOptions([1, 1, 1, 0]).AsFragment(0, more: true),
            ["ipv4 non-first fragment"] = Fw.Packets.Frame.Tcp(A, B, 40000, 443).AsFragment(185),
            ["ipv6 non-first fragment"] = Fw.Packets.Frame.Udp(A6, B6, 7, 9).WithExtensions(Ipv6Ext.Routing()).AsFragment(100),
            ["icmp error quoting udp"] = Fw.Packets.Frame.Icmp(A, B, 3, 3).WithPayload(Fw.Packets.Frame.Udp(B, A, 5, 6).Build()[14..]),
            ["icmpv6 in ipv4"] = Fw.Packets.Frame.Icmpv6(A, B, 128),
            ["icmp in ipv6"] = Fw.Packets.Frame.Icmp(A6, B6, 8),
            ["arp"] = Fw.Packets.Frame.Arp("192.0.2.1", "192.0.2.2").WithVlan(5),
            ["lldp"] = Fw.Packets.Frame.Raw(EtherTypes.Lldp, new byte[30]),
        };
        foreach (var (name, frame) in odd)
            corpus.Add((name, frame.Build(), frame));
        return corpus;
    }

    // ---- tshark ------------------------------------------------------------------------------------

    static readonly string[] Fields =
        ["frame.number", "ip.src", "ip.dst", "ip.proto", "ipv6.src", "ipv6.dst", "tcp.srcport", "tcp.dstport",
         "udp.srcport", "udp.dstport", "icmp.type", "icmpv6.type"];

    /// <summary>tshark's reading of each frame: the outermost IP header, and the first transport after it.</summary>
    static List<View> Tshark(List<byte[]> frames)
    {
        string path = Path.Combine(Path.GetTempPath(), $"fw-crosscheck-{Guid.NewGuid():N}.pcap");
        try
        {
            PcapSink.WriteFile(path, frames);
            var psi = new ProcessStartInfo("tshark") { RedirectStandardOutput = true, RedirectStandardError = true };
            // Fragments as they are (no reassembly, so a first fragment's transport header is read); first occurrences.
            foreach (string a in new[] { "-n", "-r", path, "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE",
                         "-T", "fields", "-E", "separator=\t", "-E", "occurrence=f" })
                psi.ArgumentList.Add(a);
            foreach (string f in Fields)
            {
                psi.ArgumentList.Add("-e");
                psi.ArgumentList.Add(f);
            }
            using var p = Process.Start(psi) ?? throw new InvalidOperationException("cannot start tshark");
            var stderr = p.StandardError.ReadToEndAsync();
            var lines = p.StandardOutput.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
            p.WaitForExit();
            if (p.ExitCode != 0)
                throw new InvalidOperationException($"tshark exited {p.ExitCode}: {stderr.Result}");
            Assert.Equal(frames.Count, lines.Length);
            return lines.Select(Read).ToList();
        }
        finally
        {
            File.Delete(path);
        }
    }

    static View Read(string line)
    {
        var c = line.Split('\t');
        int? N(int i) => c.Length > i && int.TryParse(c[i], out int v) ? v : null;
        string? S(int i) => c.Length > i && c[i].Length > 0 ? c[i] : null;
        bool v4 = S(1) is not null, v6 = S(4) is not null;
        if (!v4 && !v6)
            return View.None;
        // tshark's IPv6 names no protocol after the chain: the contract's is compared through the transport fields.
        int? srcPort = N(6) ?? N(8), dstPort = N(7) ?? N(9);
        return v4
            ? new View("ipv4", S(1), S(2), N(3), srcPort, dstPort, N(10))
            : new View("ipv6", Normal(S(4)), Normal(S(5)), null, srcPort, dstPort, N(11));
    }

    static string? Normal(string? address) => address is null ? null : IPAddress.Parse(address).ToString();
}
