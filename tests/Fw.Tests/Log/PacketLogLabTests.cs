using System.Text.Json;
using Fw.Bpf;
using Fw.Compiler;
using Fw.Kernel;
using Fw.Lab;
using Fw.Packets;
using Fw.Tests.Rules;
using Xunit.Abstractions;

namespace Fw.Tests.Log;

/// <summary>
/// The packet log end to end in the lab: fw on the client-facing interface with a ruleset that logs some rules and
/// its default; the client sends crafted frames (TCP, UDP, ICMP, IPv4 and IPv6, one VLAN-tagged); `fwctl log`,
/// started before, reports exactly the logged ones with the real interface index and their first snaplen bytes,
/// and writes a pcap that tcpdump and tshark read back.
/// </summary>
public sealed class PacketLogLabTests(ITestOutputHelper output) : IDisposable
{
    private readonly Fw.Lab.Lab _lab = new(LabNaming.Unique);
    private readonly string _dir = Directory.CreateTempSubdirectory("fw-loglab-").FullName;

    public void Dispose()
    {
        try
        {
            _lab.Fw.Run(() =>
            {
                if (Directory.Exists(PinLayout.Dir(_lab.FwClientIf)))
                    Firewall.Detach(_lab.FwClientIf);
            });
        }
        finally
        {
            _lab.Dispose();
            Directory.Delete(_dir, recursive: true);
        }
    }

    private const int Snaplen = 96;

    /// <summary>Only the client's crafted frames reach fw0: what fw passes draws no answer the client sends back.</summary>
    private const string Ruleset = """
        default: drop
        log:
          snaplen: 96
          default: "1/1"
        rules:
          - name: ssh
            proto: tcp
            dport: 22
            action: drop
            log: true
          - name: web
            proto: tcp
            dport: 80
            action: pass
          - name: dns
            proto: udp
            dport: 53
            action: pass
            log: 1/1
          - name: ping
            proto: icmp
            action: pass
          - name: ping6
            proto: icmpv6
            action: pass
            log: true
        """;

    private static readonly Frame[] Frames =
    [
        Fw.Lab.Lab.FromClient(Frame.Tcp(LabNet.ClientV4, LabNet.ServerV4, 40001, 22).WithPayload(200)),   // ssh, cut to snaplen
        Fw.Lab.Lab.FromClient(Frame.Tcp(LabNet.ClientV6, LabNet.ServerV6, 40002, 22)),                    // ssh
        Fw.Lab.Lab.FromClient(Frame.Tcp(LabNet.ClientV4, LabNet.ServerV4, 40003, 80)),                    // web: not logged
        Fw.Lab.Lab.FromClient(Frame.Udp(LabNet.ClientV4, LabNet.ServerV4, 40004, 53).WithPayload(20)),    // dns
        Fw.Lab.Lab.FromClient(Frame.Udp(LabNet.ClientV6, LabNet.ServerV6, 40005, 53).WithPayload(300)),   // dns, cut
        Fw.Lab.Lab.FromClient(Frame.Icmp(LabNet.ClientV4, LabNet.ServerV4, 8)),                           // ping: not logged
        Fw.Lab.Lab.FromClient(Frame.Icmpv6(LabNet.ClientV6, LabNet.ServerV6, 128)),                       // ping6
        Fw.Lab.Lab.FromClient(Frame.Tcp(LabNet.ClientV4, LabNet.ServerV4, 40006, 22).WithVlan(100)),      // ssh, tagged
        Fw.Lab.Lab.FromClient(Frame.Udp(LabNet.ClientV4, LabNet.ServerV4, 40007, 5000)),                  // default
        Fw.Lab.Lab.FromClient(Frame.Tcp(LabNet.ClientV6, LabNet.ServerV6, 40008, 443)),                   // default
    ];

    /// <summary>What the log must hold: (frame, rule or null for the default, verdict), in order.</summary>
    private static readonly (Frame Frame, string? Rule, string Verdict)[] Logged =
    [
        (Frames[0], "ssh", "drop"), (Frames[1], "ssh", "drop"), (Frames[3], "dns", "pass"), (Frames[4], "dns", "pass"),
        (Frames[6], "ping6", "pass"), (Frames[7], "ssh", "drop"), (Frames[8], null, "drop"), (Frames[9], null, "drop"),
    ];

    private static readonly TimeSpan Ample = TimeSpan.FromSeconds(30);

    private int Attach()
    {
        string iface = _lab.FwClientIf;
        return _lab.Fw.Run(() =>
        {
            Firewall.Attach(iface, RulesetCompiler.Compile(RulesTestKit.ParseOk(Ruleset)), new ImageOrigin("/dev/null", 0), XdpMode.Native);
            return NetInterface.Index(iface);
        });
    }

    [Fact]
    public void FwctlLogJsonReportsExactlyTheLoggedFramesWithTheirBytes()
    {
        string iface = _lab.FwClientIf;
        int ifindex = Attach();
        var before = DateTimeOffset.UtcNow;
        // One more than must come: --seconds ends it, and a record beyond the expected ones would show.
        var follower = LogFollower.Start(_lab.Fw, iface, "--json", "--count", (Logged.Length + 1).ToString(), "--seconds", "8");
        _lab.SendFromClient(Frames);

        var (exit, stdout, stderr) = follower.Wait(Ample);
        output.WriteLine(stdout);
        Assert.True(exit == 0, $"fwctl log: exit {exit}: {stderr}");
        var got = LogFollower.JsonLines(stdout);
        Assert.Equal(Logged.Length, got.Count);
        for (int i = 0; i < Logged.Length; i++)
        {
            var (frame, rule, verdict) = Logged[i];
            var r = got[i];
            byte[] sent = frame.Build();
            string what = $"record {i}: {r}";
            Assert.True(rule is null ? r.GetProperty("rule").ValueKind == JsonValueKind.Null : r.GetProperty("rule").GetString() == rule, what);
            Assert.Equal(rule is null ? "default" : "rule", r.GetProperty("reason").GetString());
            Assert.Equal(verdict, r.GetProperty("verdict").GetString());
            Assert.Equal(sent.Length, r.GetProperty("length").GetInt32());
            Assert.Equal(ifindex, r.GetProperty("ifindex").GetInt32());
            Assert.Equal(Convert.ToHexStringLower(sent.AsSpan(0, Math.Min(Snaplen, sent.Length))), r.GetProperty("bytes").GetString());
            Assert.InRange(DateTimeOffset.Parse(r.GetProperty("time").GetString()!), before.AddSeconds(-1), DateTimeOffset.UtcNow.AddSeconds(1));
            Assert.True(r.GetProperty("cpu").GetInt32() >= 0, what);
            Assert.False(string.IsNullOrEmpty(r.GetProperty("summary").GetString()), what);
        }

        var stats = _lab.Fw.Run(() => StatsSnapshot.Read(iface));
        Assert.Equal(((ulong)Logged.Length, 0UL, 0UL), (stats.LogRecords.Total.Packets, stats.LogOverRate.Total.Packets, stats.LogBufferFull.Total.Packets));
    }

    [Fact]
    public void FwctlLogWritesAPcapThatTcpdumpAndTsharkRead()
    {
        string iface = _lab.FwClientIf;
        Attach();
        string pcap = Path.Combine(_dir, "log.pcap");
        var follower = LogFollower.Start(_lab.Fw, iface, "-w", pcap, "--count", Logged.Length.ToString(), "--seconds", "20");
        _lab.SendFromClient(Frames);
        var (exit, _, stderr) = follower.Wait(Ample);
        Assert.True(exit == 0, $"fwctl log -w: exit {exit}: {stderr}");
        Assert.Contains($"{Logged.Length} frames written to {pcap}", stderr);

        var dump = Fw.Lab.Command.Run("tcpdump", "-nr", pcap).Check();
        output.WriteLine($"$ tcpdump -nr log.pcap\n{dump.Stdout}");
        var lines = dump.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(Logged.Length, lines.Length);

        var fields = Fw.Lab.Command.Run("tshark", "-r", pcap, "-T", "fields", "-E", "separator=,",
            "-e", "ip.src", "-e", "ipv6.src", "-e", "ip.dst", "-e", "ipv6.dst", "-e", "tcp.srcport", "-e", "tcp.dstport",
            "-e", "udp.srcport", "-e", "udp.dstport", "-e", "vlan.id", "-e", "frame.len").Check();
        output.WriteLine(fields.Stdout);
        var rows = fields.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(Logged.Length, rows.Length);
        for (int i = 0; i < Logged.Length; i++)
        {
            var p = FrameParser.Parse(Logged[i].Frame.Build());
            var f = rows[i].Split(',');
            string src = f[0].Length > 0 ? f[0] : f[1], dst = f[2].Length > 0 ? f[2] : f[3];
            string sport = f[4].Length > 0 ? f[4] : f[6], dport = f[5].Length > 0 ? f[5] : f[7];
            Assert.Equal((p.Ipv4?.Src ?? p.Ipv6!.Src).ToString(), src);
            Assert.Equal((p.Ipv4?.Dst ?? p.Ipv6!.Dst).ToString(), dst);
            Assert.Equal((p.Tcp?.SrcPort ?? p.Udp?.SrcPort)?.ToString() ?? "", sport);
            Assert.Equal((p.Tcp?.DstPort ?? p.Udp?.DstPort)?.ToString() ?? "", dport);
            Assert.Equal(Logged[i].Frame.Vlans.Count > 0 ? "100" : "", f[8]);
            Assert.Equal(Logged[i].Frame.Build().Length.ToString(), f[9].Trim());   // the original length, not the captured
            Assert.Contains(src, lines[i]);
        }

        // The same frames as fwctl log prints them (the README's session).
        var text = LogFollower.Start(_lab.Fw, iface, "--count", Logged.Length.ToString(), "--seconds", "20");
        _lab.SendFromClient(Frames);
        var (textExit, textOut, textErr) = text.Wait(Ample);
        output.WriteLine($"$ fwctl log {iface}\n{textOut}");
        Assert.True(textExit == 0, textErr);
        var textLines = textOut.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(Logged.Select(l => l.Rule ?? "(default)"), textLines.Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[2]));
    }
}
