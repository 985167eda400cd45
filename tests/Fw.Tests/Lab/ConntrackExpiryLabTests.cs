using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Fw.Bpf;
using Fw.Compiler;
using Fw.Kernel;
using Fw.Lab;
using Xunit.Abstractions;

namespace Fw.Tests.Lab;

/// <summary>
/// A flow's entry expires (fw on fw0, the client's side, `default: drop`, UDP timeouts of 2 s): the server sends a
/// datagram to the client, and the client's answer, sent at once, comes back (established); the client's next
/// answer, sent after the flow has been quiet for over 2 s, is dropped (the flow is gone). Real sockets in the lab.
/// </summary>
public sealed class ConntrackExpiryLabTests(ITestOutputHelper output) : IDisposable
{
    private readonly Fw.Lab.Lab _lab = new(LabNaming.Unique);

    public void Dispose() => _lab.Dispose();

    private const string Policy = """
        default: drop
        conntrack:
          timeouts: {udp: 2, udp_replied: 2}
        rules:
          - name: replies
            state: established
            action: pass
        """;

    /// <summary>What must get through gets 5 s (the suite loads both CPUs); what must not, 1 s.</summary>
    private static readonly TimeSpan Ample = TimeSpan.FromSeconds(5), Short = TimeSpan.FromSeconds(1);

    /// <summary>Past the timeout whatever the second boundaries: flows count whole seconds (live while now &lt; last + 2).</summary>
    private static readonly TimeSpan PastTimeout = TimeSpan.FromSeconds(3.2);

    [Fact]
    public void AReplyWithinTheTimeoutPassesOneAfterItIsDropped()
    {
        string iface = _lab.FwClientIf;
        var rs = Fw.Tests.Rules.RulesTestKit.ParseOk(Policy);
        Assert.Equal(2u, rs.Conntrack.Udp);
        Assert.Equal(2u, rs.Conntrack.UdpReplied);
        _lab.Fw.Run(() => Firewall.Attach(iface, RulesetCompiler.Compile(rs), new ImageOrigin("/dev/null", 0), XdpMode.Native));
        try
        {
            // Both sockets made first: the answer leaves the moment the query arrives.
            var serverEnd = new IPEndPoint(LabNet.ServerV4, 40100);
            var clientEnd = new IPEndPoint(LabNet.ClientV4, 5400);
            using var server = Bound(_lab.Server, serverEnd);
            using var client = Bound(_lab.Client, clientEnd);
            var start = Stats(iface);

            // The query leaves through fw0 (its flow recorded); the answer, at once, comes back.
            server.SendTo("query"u8.ToArray(), clientEnd);
            Assert.True(Received(client, Ample) == "query", "the server's datagram did not reach the client");
            var sent = Stopwatch.StartNew();
            client.SendTo("answer 1"u8.ToArray(), serverEnd);
            string? first = Received(server, Ample);
            Assert.True(first == "answer 1", $"the answer within the timeout did not come back ({(first is null ? "nothing" : first)}; sent {sent.ElapsedMilliseconds} ms after the query arrived)");
            var afterFirst = Stats(iface);
            Assert.Equal(1UL, Moved(start, afterFirst, "replies"));

            // Quiet for longer than the timeout: the next answer finds no flow.
            Thread.Sleep(PastTimeout);
            client.SendTo("answer 2"u8.ToArray(), serverEnd);
            string? late = Received(server, Short);
            Assert.True(late is null, $"an answer {PastTimeout.TotalSeconds} s after the last packet of the flow came back: {late}");
            var afterLate = Stats(iface);
            Assert.Equal(0UL, Moved(afterFirst, afterLate, "replies"));
            Assert.True(afterLate.Default.Total.Packets > afterFirst.Default.Total.Packets, "the late answer was not dropped by the default");

            // Its entry is still in the table, expired (nothing swept it: no fwd runs), until a sweep removes it.
            _lab.Fw.Run(() =>
            {
                using var table = ConntrackTable.Open(iface)!;
                var flow = new ConntrackFilter(Proto: 17, Src: ConntrackFilter.ParsePrefix(LabNet.ServerV4.ToString()));
                var before = table.Flows(flow).ToList();
                Assert.Contains(before, f => f.Sport == 40100 && f.Dport == 5400);
                Assert.All(before, f => Assert.True(f.Expired, $"{f.Tuple} expires in {f.ExpiresIn} s"));
                Assert.True(table.Sweep() >= before.Count);
                Assert.Empty(table.Flows(flow));
            });

            // A new query makes a new flow: its answer comes back again (the sockets were fine all along).
            server.SendTo("query 2"u8.ToArray(), clientEnd);
            Assert.True(Received(client, Ample) == "query 2", "the server's second datagram did not reach the client");
            client.SendTo("answer 3"u8.ToArray(), serverEnd);
            Assert.Equal("answer 3", Received(server, Ample));
            output.WriteLine($"replies counted {Moved(start, Stats(iface), "replies")}, default {Stats(iface).Default.Total.Packets - start.Default.Total.Packets}");
        }
        finally
        {
            _lab.Fw.Run(() => Firewall.Detach(iface));
        }
    }

    private StatsSnapshot Stats(string iface) => _lab.Fw.Run(() => StatsSnapshot.Read(iface));

    private static ulong Moved(StatsSnapshot before, StatsSnapshot after, string rule) =>
        after.Rules.Single(r => r.Name == rule).Counter.Total.Packets - before.Rules.Single(r => r.Name == rule).Counter.Total.Packets;

    private static Socket Bound(Netns ns, IPEndPoint at)
    {
        var s = ns.Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        s.Bind(at);
        return s;
    }

    /// <summary>The next datagram's text, or null when none arrives within <paramref name="timeout"/>.</summary>
    private static string? Received(Socket s, TimeSpan timeout)
    {
        if (!s.Poll(timeout, SelectMode.SelectRead))
            return null;
        var buffer = new byte[2048];
        int n = s.Receive(buffer);
        return System.Text.Encoding.ASCII.GetString(buffer, 0, n);
    }
}
