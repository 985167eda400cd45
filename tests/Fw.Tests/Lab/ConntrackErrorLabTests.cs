using System.Net;
using Fw.Bpf;
using Fw.Compiler;
using Fw.Kernel;
using Fw.Lab;
using Fw.Packets;
using Xunit.Abstractions;

namespace Fw.Tests.Lab;

/// <summary>
/// ICMP errors through the lab (fw on fw0, the client's side, `default: drop`; the server's side is the protected
/// one): the server holds a TCP connection open to the client, and a router on the client's side tells the server
/// that a packet of it was too big, an IPv4 "fragmentation needed" (type 3 code 4) or an ICMPv6 "packet too big"
/// (type 2). That error is related: it reaches the server, counted by the related rule. The same error quoting a
/// flow that does not exist (another port) is new: dropped by the default, never on the server. The errors are
/// crafted and sent from c0; the server's side is captured on s0.
/// </summary>
public sealed class ConntrackErrorLabTests(ITestOutputHelper output) : IDisposable
{
    private readonly Fw.Lab.Lab _lab = new(LabNaming.Unique);

    public void Dispose() => _lab.Dispose();

    private const string Policy = """
        default: drop
        rules:
          - name: established
            state: established
            action: pass
          - name: related
            state: related
            action: pass
        """;

    /// <summary>What must get through gets 5 s (the suite loads both CPUs); what must not, 1 s.</summary>
    private static readonly TimeSpan Ample = TimeSpan.FromSeconds(5), Short = TimeSpan.FromSeconds(1);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void APacketTooBigAboutAConnectionReachesItsSenderAnUnrelatedOneDoesNot(bool v6)
    {
        string iface = _lab.FwClientIf;
        _lab.Fw.Run(() => Firewall.Attach(iface, RulesetCompiler.Compile(Fw.Tests.Rules.RulesTestKit.ParseOk(Policy)),
            new ImageOrigin("/dev/null", 0), XdpMode.Native));
        try
        {
            IPAddress server = v6 ? LabNet.ServerV6 : LabNet.ServerV4, client = v6 ? LabNet.ClientV6 : LabNet.ClientV4;
            // A router on the client's side (the client's second address: the fw namespace routes it back through fw0).
            IPAddress router = v6 ? LabNet.ClientOtherV6 : LabNet.ClientOtherV4;
            using var conn = EchoConnection.Open(_lab, server, client, v6 ? 8096 : 8094, Ample);
            Assert.Null(conn.Echo("before the error\n"u8.ToArray(), Ample));   // the flow is established both ways

            using var s0 = _lab.CaptureServer();
            var start = Stats(iface);

            // The error about a flow that does not exist: the connection's ports, but another client port.
            byte[] unknownQuote = Quote(v6, server, client, (ushort)conn.Local.Port, (ushort)(conn.Remote.Port + 1));
            _lab.SendFromClient(TooBig(v6, router, server, unknownQuote));
            var unrelated = s0.WaitFor(f => IsError(f, v6, unknownQuote), Short);
            Assert.True(unrelated is null, $"the error quoting no flow reached the server: {unrelated}");
            var afterUnrelated = Stats(iface);
            Assert.Equal(0UL, Moved(start, afterUnrelated, "related"));
            Assert.True(afterUnrelated.Default.Total.Packets - start.Default.Total.Packets >= 1, "the unrelated error was not counted by the default");

            // The error about the connection (the quote of a segment the server sent): related, it gets through.
            byte[] quote = Quote(v6, server, client, (ushort)conn.Local.Port, (ushort)conn.Remote.Port);
            _lab.SendFromClient(TooBig(v6, router, server, quote));
            var related = s0.WaitFor(f => IsError(f, v6, quote), Ample);
            Assert.True(related is not null, $"the error about {conn} did not reach the server within {Ample.TotalSeconds} s");
            output.WriteLine($"on s0: {related}");
            var afterRelated = Stats(iface);
            Assert.Equal(1UL, Moved(afterUnrelated, afterRelated, "related"));

            // The connection goes on.
            Assert.Null(conn.Echo("after the error\n"u8.ToArray(), Ample));
        }
        finally
        {
            _lab.Fw.Run(() => Firewall.Detach(iface));
        }
    }

    private StatsSnapshot Stats(string iface) => _lab.Fw.Run(() => StatsSnapshot.Read(iface));

    private static ulong Moved(StatsSnapshot before, StatsSnapshot after, string rule) =>
        after.Rules.Single(r => r.Name == rule).Counter.Total.Packets - before.Rules.Single(r => r.Name == rule).Counter.Total.Packets;

    /// <summary>
    /// What a router quotes of a segment <paramref name="src"/> sent: IPv4, its header and 8 bytes (RFC 792); IPv6,
    /// the whole 60-byte packet (RFC 4443: as much as fits).
    /// </summary>
    private static byte[] Quote(bool v6, IPAddress src, IPAddress dst, ushort sport, ushort dport)
    {
        byte[] ip = Frame.Tcp(src, dst, sport, dport, TcpFlags.Ack | TcpFlags.Psh).WithPayload(1400).Build()[14..];
        return v6 ? ip[..60] : ip[..28];
    }

    /// <summary>IPv4 "fragmentation needed" (next-hop MTU 1400) or ICMPv6 "packet too big" (MTU 1280), from c0.</summary>
    private static Frame TooBig(bool v6, IPAddress router, IPAddress to, byte[] quote) => Fw.Lab.Lab.FromClient(v6
        ? Frame.Icmpv6(router, to, 2).WithIcmp(h => h with { Rest = 1280 }).WithPayload(quote)
        : Frame.Icmp(router, to, 3, 4).WithIcmp(h => h with { Rest = 1400 }).WithPayload(quote));

    private static bool IsError(CapturedFrame f, bool v6, byte[] quote) =>
        f.Parsed.Icmp is { } icmp && icmp.V6 == v6 && icmp.Type == (v6 ? 2 : 3) && f.Bytes.AsSpan().IndexOf(quote) >= 0;
}
