using System.Diagnostics;
using System.Net;
using Fw.Cli;
using Fw.Kernel;
using Fw.Lab;
using Fw.Packets;
using Fw.Bpf;

namespace Fw.Tests.Lab;

/// <summary>
/// The lab itself: it builds and removes its namespaces and veths completely, two labs coexist, real
/// traffic and crafted frames cross it with no firewall attached, and a crashed lab's leftovers go.
/// </summary>
public sealed class LabTests
{
    private static readonly string[] LabMacs =
        [LabNet.ClientMac, LabNet.FwClientMac, LabNet.FwServerMac, LabNet.FwSinkMac, LabNet.ServerMac, LabNet.SinkMac];

    private static string IpNetnsList() => Command.Run("ip", "netns", "list").Check().Stdout;

    /// <summary>`ip -o link` of the host's namespace: one line per interface, its name and its MAC.</summary>
    private static string HostLinks() => Command.Run("ip", "-o", "link").Check().Stdout;

    private static void AssertNothingInTheHost(Fw.Lab.Lab lab)
    {
        string links = HostLinks();
        foreach (string mac in LabMacs)
            Assert.DoesNotContain(mac, links);
        foreach (string dev in new[] { lab.FwClientIf, lab.FwServerIf, lab.FwSinkIf }.Where(d => d.StartsWith(Fw.Lab.Lab.NamePrefix)))
            Assert.DoesNotContain($" {dev}:", links);
    }

    [Theory]
    [InlineData(LabNaming.Fixed)]
    [InlineData(LabNaming.Unique)]
    public void CreateThenDisposeLeavesNothing(LabNaming naming)
    {
        var lab = new Fw.Lab.Lab(naming);
        string id = lab.Id;
        try
        {
            Assert.Matches($@"^fwl{Environment.ProcessId}x\d+$", id);
            string list = IpNetnsList();
            foreach (string role in new[] { "client", "fw", "server", "sink" })
                Assert.Contains($"{id}-{role}", list);
            if (naming == LabNaming.Unique)
                Assert.Equal([$"{id}i", $"{id}o", $"{id}k"], new[] { lab.FwClientIf, lab.FwServerIf, lab.FwSinkIf });
            else
                Assert.Equal(["fw0", "fw1", "fw2"], new[] { lab.FwClientIf, lab.FwServerIf, lab.FwSinkIf });

            // Built as documented: addresses, MACs, XDP pass programs on the peers, forwarding.
            string c0 = lab.Client.Exec("ip", "-o", "addr", "show", "dev", lab.ClientIf).Check().Stdout;
            foreach (string a in new[] { "198.18.1.2/24", "198.18.3.2/24", "2001:db8:1::2/64", "2001:db8:3::2/64" })
                Assert.Contains(a, c0);
            string fw = lab.Fw.Exec("ip", "-o", "link").Check().Stdout;
            Assert.Contains($" {lab.FwClientIf}@", fw);
            Assert.Contains(LabNet.FwClientMac, fw);
            Assert.Contains(LabNet.FwSinkMac, fw);
            foreach (var (ns, dev) in new[] { (lab.Client, lab.ClientIf), (lab.Server, lab.ServerIf), (lab.Sink, lab.SinkIf) })
                Assert.Contains("prog/xdp", ns.Exec("ip", "-d", "link", "show", "dev", dev).Check().Stdout);
            Assert.Equal("1", lab.Fw.Exec("sysctl", "-n", "net.ipv4.ip_forward").Check().Stdout.Trim());

            // Nothing of the lab is in the host's namespace, ever.
            AssertNothingInTheHost(lab);
            // Run: if_nametoindex resolves in the namespace, not in the host's.
            Assert.True(lab.Sink.Ifindex(lab.SinkIf) > 0);
            Assert.Throws<BpfException>(() => lab.Sink.Ifindex(lab.ClientIf));
        }
        finally
        {
            lab.Dispose();
        }
        Assert.DoesNotContain(id, IpNetnsList());
        Assert.False(Directory.GetFiles("/run/netns").Any(f => f.Contains(id)));
        AssertNothingInTheHost(lab);
    }

    [Fact]
    public void AnIdleLabIsQuiet()
    {
        // No ARP, ND, DAD, router solicitation or late MLD report reaches the fw namespace once the lab is
        // built: counters on fw0 count exactly what a test sends.
        using var lab = new Fw.Lab.Lab();
        using var fw0 = LiveCapture.Open(lab.Fw, lab.FwClientIf);
        using var fw1 = LiveCapture.Open(lab.Fw, lab.FwServerIf);
        using var fw2 = LiveCapture.Open(lab.Fw, lab.FwSinkIf);
        Assert.Empty(fw0.Collect(TimeSpan.FromSeconds(1)));
        Assert.Empty(fw1.Collect(TimeSpan.FromMilliseconds(10)));
        Assert.Empty(fw2.Collect(TimeSpan.FromMilliseconds(10)));
    }

    [Fact]
    public void TwoLabsAtOnce()
    {
        using var a = new Fw.Lab.Lab();
        using var b = new Fw.Lab.Lab();
        Assert.NotEqual(a.Id, b.Id);
        var ra = Task.Run(() => a.Tcp(LabNet.ClientV4, LabNet.ServerV4, 8080));
        var rb = Task.Run(() => b.Tcp(LabNet.ClientV4, LabNet.ServerV4, 8080));
        Assert.True(ra.Result.Delivered, ra.Result.ToString());
        Assert.True(rb.Result.Delivered, rb.Result.ToString());
        // Same addresses and ports, different namespaces: a's traffic never reaches b's server.
        using var capB = b.CaptureServer();
        Assert.True(a.Udp(LabNet.ClientV4, 40000, LabNet.ServerV4, 9999).Delivered);
        Assert.Null(capB.WaitFor(f => f.Parsed.Udp?.DstPort == 9999, TimeSpan.FromMilliseconds(300)));
    }

    [Fact]
    public void TrafficFlowsClientToServerWithNoFirewall()
    {
        using var lab = new Fw.Lab.Lab();
        foreach (var (src, dst) in new[]
        {
            (LabNet.ClientV4, LabNet.ServerV4), (LabNet.ClientV6, LabNet.ServerV6),
            (LabNet.ClientOtherV4, LabNet.ServerV4), (LabNet.ClientOtherV6, LabNet.ServerV6),
        })
        {
            var tcp = lab.Tcp(src, dst, 22, new byte[100_000]);
            Assert.True(tcp.Delivered, $"tcp {src} -> {dst}: {tcp}");
            Assert.Equal(src, tcp.ServerSaw!.Address);

            var udp = lab.Udp(src, 40000, dst, 53);
            Assert.True(udp.Delivered, $"udp {src} -> {dst}: {udp}");
            Assert.Equal(new IPEndPoint(src, 40000), udp.ReceivedFrom);

            var ping = lab.Ping(src, dst);
            Assert.True(ping.Replied, $"ping {src} -> {dst}: {ping}");
        }
        // The sink is reachable too (through fw2), and a closed port says so at once.
        Assert.True(lab.Ping(LabNet.ClientV4, LabNet.SinkV4).Replied);
        Assert.True(lab.Ping(LabNet.ClientV6, LabNet.SinkV6).Replied);
        Assert.Equal(nameof(System.Net.Sockets.SocketError.ConnectionRefused),
            lab.Fw.Run(() => RefusedConnect(LabNet.ServerV4)));
    }

    private static string RefusedConnect(IPAddress dst)
    {
        using var s = new System.Net.Sockets.Socket(dst.AddressFamily, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        try
        {
            s.Connect(dst, 1);
            return "connected";
        }
        catch (System.Net.Sockets.SocketException e)
        {
            return e.SocketErrorCode.ToString();
        }
    }

    [Fact]
    public void BlockedTrafficTimesOutWithinItsBound()
    {
        using var lab = new Fw.Lab.Lab();
        // Nothing answers at an address no namespace has: the waits end on time.
        lab.Fw.Exec("ip", "link", "set", lab.FwServerIf, "down").Check();
        var sw = Stopwatch.StartNew();
        var tcp = lab.Tcp(LabNet.ClientV4, LabNet.ServerV4, 22, timeout: TimeSpan.FromMilliseconds(500));
        var udp = lab.Udp(LabNet.ClientV6, 40000, LabNet.ServerV6, 53, timeout: TimeSpan.FromMilliseconds(500));
        var ping = lab.Ping(LabNet.ClientV4, LabNet.ServerV4, TimeSpan.FromMilliseconds(500));
        Assert.False(tcp.Connected);
        Assert.False(udp.Arrived);
        Assert.False(ping.Replied);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(10), $"took {sw.Elapsed}");
    }

    [Fact]
    public void CraftedFramesFromTheClientAreCapturedOnTheServerSide()
    {
        using var lab = new Fw.Lab.Lab();
        byte[] marker = "crafted by the lab test"u8.ToArray();
        using var cap = lab.CaptureServer();
        lab.SendFromClient(
            Fw.Lab.Lab.FromClient(Frame.Udp(LabNet.ClientV4, LabNet.ServerV4, 40000, 7).WithPayload(marker)),
            Fw.Lab.Lab.FromClient(Frame.Tcp(LabNet.ClientV6, LabNet.ServerV6, 40000, 80, TcpFlags.Fin | TcpFlags.Psh | TcpFlags.Urg)));

        var udp = cap.WaitFor(f => f.Parsed.Udp?.DstPort == 7, TimeSpan.FromSeconds(2));
        Assert.NotNull(udp);
        Assert.Equal(LabNet.ClientV4, udp.Parsed.Ipv4!.Src);
        Assert.Equal(63, udp.Parsed.Ipv4.Ttl);                  // routed once, by the fw namespace
        Assert.Equal(LabNet.FwServerMac, udp.Parsed.SrcMac);
        Assert.Equal(LabNet.ServerMac, udp.Parsed.DstMac);
        Assert.True(udp.Bytes.AsSpan(udp.Parsed.PayloadOffset).StartsWith(marker));

        var xmas = cap.WaitFor(f => f.Parsed.Tcp?.DstPort == 80, TimeSpan.FromSeconds(2));
        Assert.NotNull(xmas);
        Assert.Equal(LabNet.ClientV6, xmas.Parsed.Ipv6!.Src);
        Assert.Equal(TcpFlags.Fin | TcpFlags.Psh | TcpFlags.Urg, xmas.Parsed.Tcp!.Flags);

        // Nothing reached the sink.
        using var sink = lab.CaptureSink();
        lab.SendFromClient(Fw.Lab.Lab.FromClient(Frame.Udp(LabNet.ClientV4, LabNet.ServerV4, 40000, 8)));
        Assert.NotNull(cap.WaitFor(f => f.Parsed.Udp?.DstPort == 8, TimeSpan.FromSeconds(2)));
        Assert.Null(sink.WaitFor(f => f.Parsed.Udp is not null, TimeSpan.FromMilliseconds(200)));
    }

    /// <summary>
    /// libpcap captures opened inside the namespaces: each sees from the very first frame after it opened (the
    /// inbound/outbound filters would lose it), in its own direction only; a capture on a down link is refused
    /// with a message that says so.
    /// </summary>
    [Fact]
    public void CapturesSeeTheFirstFrameInTheirDirectionOnly()
    {
        using var lab = new Fw.Lab.Lab();
        using var leaving = lab.CaptureClientSent();
        using var arriving = lab.CaptureClient();
        using var server = lab.CaptureServer();
        var frame = Fw.Lab.Lab.FromClient(Frame.Udp(LabNet.ClientV4, LabNet.ServerV4, 40000, 9).WithPayload("first"u8.ToArray()));
        lab.SendFromClient(frame);
        byte[] udp = frame.Build();

        var sent = leaving.Receive(TimeSpan.FromSeconds(2));
        Assert.NotNull(sent);
        Assert.Equal(udp, sent.Bytes);
        var got = server.Receive(TimeSpan.FromSeconds(2));
        Assert.NotNull(got);
        Assert.Equal((ushort)9, got.Parsed.Udp?.DstPort);

        // Nothing listens on port 9: the server's port-unreachable error comes back to c0, arriving, not leaving.
        var back = arriving.Receive(TimeSpan.FromSeconds(2));
        Assert.NotNull(back);
        Assert.Equal(LabNet.ServerV4, back.Parsed.Ipv4?.Src);
        Assert.Equal((byte)1, back.Parsed.Ipv4!.Protocol);   // ICMP
        Assert.Null(leaving.Receive(TimeSpan.FromMilliseconds(200)));

        lab.Sink.Exec("ip", "link", "set", lab.SinkIf, "down").Check();
        var e = Assert.Throws<LabException>(() => lab.CaptureSink());
        Assert.Equal($"{lab.Sink}: capture on {lab.SinkIf}: the interface is down (libpcap opens no capture on a down link)", e.Message);
    }

    [Fact]
    public void FwctlAttachesInsideTheLabAndDisposeRemovesItsPins()
    {
        string rules = Path.Combine(Directory.CreateTempSubdirectory("fw-lab-").FullName, "rules.yaml");
        File.WriteAllText(rules, "rules:\n  - name: no-discard\n    proto: [tcp, udp]\n    dport: 9\n    action: drop\n");
        string iface;
        try
        {
            using var lab = new Fw.Lab.Lab(LabNaming.Unique);
            iface = lab.FwClientIf;
            var (rc, stdout, stderr) = lab.Fw.Run(() =>
            {
                var (o, e) = (new StringWriter(), new StringWriter());
                return (FwctlApp.Run(["attach", iface, "--rules", rules], o, e), o.ToString(), e.ToString());
            });
            Assert.True(rc == 0, stdout + stderr);
            Assert.Contains("native", stdout);
            Assert.False(lab.Udp(LabNet.ClientV4, 40000, LabNet.ServerV4, 9, timeout: TimeSpan.FromMilliseconds(300)).Arrived);
            Assert.True(lab.Udp(LabNet.ClientV4, 40000, LabNet.ServerV4, 10).Delivered);
            Assert.Equal(1UL, StatsSnapshot.Read(iface).Rules.Single().Counter.Total.Packets);
            // Not detached: the lab's Dispose finds the pins of its deleted interface and removes them.
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(rules)!, recursive: true);
        }
        Assert.False(Directory.Exists(PinLayout.Dir(iface)));
    }

    [Fact]
    public void TheNextLabRemovesACrashedLabsLeftovers()
    {
        // A "crashed" lab: namespaces named for a process that has exited, a veth pair between them, and fw
        // attached to its fw-side interface and pinned, as a lab killed with kill -9 in the middle of a test
        // leaves them (named as LabNaming.Unique names them, so no other lab or host interface is involved).
        int dead = DeadPid();
        string prefix = $"fwl{dead}x1";
        string client = $"{prefix}-client", fw = $"{prefix}-fw", fwIf = $"{prefix}i";
        string rules = Path.Combine(Directory.CreateTempSubdirectory("fw-lab-").FullName, "rules.yaml");
        File.WriteAllText(rules, "rules:\n  - proto: tcp\n    dport: 9\n    action: drop\n");
        try
        {
            Command.Run("ip", "netns", "add", client).Check();
            Command.Run("ip", "netns", "add", fw).Check();
            Command.Run("ip", "link", "add", "c0", "netns", client, "type", "veth", "peer", "name", fwIf, "netns", fw).Check();
            var fwNs = new Netns(fw);
            fwNs.Exec("ip", "link", "set", fwIf, "up").Check();
            var err = new StringWriter();
            int rc = fwNs.Run(() => FwctlApp.Run(["attach", fwIf, "--rules", rules, "--mode", "generic"], TextWriter.Null, err));
            Assert.True(rc == 0, err.ToString());
            Assert.True(File.Exists(PinLayout.Link(fwIf)));

            using (var lab = new Fw.Lab.Lab())
            {
                string list = IpNetnsList();
                Assert.DoesNotContain(prefix, list);
                Assert.Contains(lab.Id, list);
                Assert.False(Directory.Exists(PinLayout.Dir(fwIf)));
            }
        }
        finally
        {
            foreach (string ns in new[] { client, fw })
            {
                if (File.Exists($"/run/netns/{ns}"))
                {
                    new Netns(ns).Exec("ip", "link", "del", "c0");
                    Command.Run("ip", "netns", "del", ns);
                }
            }
            Fw.Lab.Lab.RemoveLeftovers();
            Directory.Delete(Path.GetDirectoryName(rules)!, recursive: true);
        }
    }

    /// <summary>The pid of a process that has just exited (and so owns nothing).</summary>
    private static int DeadPid()
    {
        using var p = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!;
        p.WaitForExit();
        Assert.False(Directory.Exists($"/proc/{p.Id}"));
        return p.Id;
    }
}
