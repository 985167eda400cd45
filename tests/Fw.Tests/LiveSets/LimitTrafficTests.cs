using System.Diagnostics;
using Fw.Bpf;
using Fw.Control;
using Fw.Kernel;
using Fw.Traffic;
using Xunit.Abstractions;
using Fw.Tests.Kernel;

namespace Fw.Tests.LiveSets;

/// <summary>
/// Floods run by themselves: they load both CPUs for seconds, which would slow other tests' traffic past their
/// bounds, and the rate they measure is the data plane's, not the machine's left-over time.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FloodCollection
{
    public const string Name = "flood";
}

/// <summary>
/// Limits and bans under real traffic: frames written from user space into a veth's peer (an AF_PACKET TX ring,
/// <see cref="PacketSender"/>) and classified by fw attached to the veth. A flood from four sources at once is cut
/// to each source's rate × time + burst (within 10%) while a fifth source sending under the rate loses nothing; a
/// source over its limit lands in a live set by add_to and is dropped entirely until the entry expires, then passes.
/// </summary>
[Collection(FloodCollection.Name)]
public sealed class LimitTrafficTests(ITestOutputHelper output) : IDisposable
{
    private readonly TestVeth _veth = new();
    private readonly string _dir = Directory.CreateTempSubdirectory("fw-limit-").FullName;

    public void Dispose()
    {
        try
        {
            if (Directory.Exists(PinLayout.Dir(_veth.Name)))
                Firewall.Detach(_veth.Name);
        }
        finally
        {
            _veth.Dispose();
            Directory.Delete(_dir, recursive: true);
        }
    }

    private CheckResult Load(string yaml)
    {
        string path = Path.Combine(_dir, "rules.yaml");
        File.WriteAllText(path, yaml);
        var check = RulesCheck.Check(path);
        Assert.True(check.Ok, string.Join("\n", check.Diagnostics));
        return check;
    }

    // A burst of one second's worth (the default): the sender descheduled for a moment (a loaded machine) loses no
    // tokens, its source catches up after the gap, so what passes is rate × time + burst however the flood arrives.
    private const int Rate = 1000, Burst = 1000, Sources = 4;
    private static readonly TimeSpan FloodFor = TimeSpan.FromSeconds(2);

    // The flood: 198.18.7.0-3 (the low two bits of the source vary per frame), UDP to port 9. The calm source
    // 198.18.9.9 sends to the same port at a tenth of the rate. The kernel's own IPv6 chatter passes by noise.
    private static readonly string Policed = $$"""
        default: drop
        rules:
          - { name: noise, proto: icmpv6, action: pass }
          - name: police
            proto: udp
            dport: 9
            limit: { rate: {{Rate}}/s, burst: {{Burst}}, per: src }
            action: drop
          - { name: from-0, src: 198.18.7.0, action: pass }
          - { name: from-1, src: 198.18.7.1, action: pass }
          - { name: from-2, src: 198.18.7.2, action: pass }
          - { name: from-3, src: 198.18.7.3, action: pass }
          - { name: calm, src: 198.18.9.9, action: pass }
        """;

    private static byte[] Udp(string src) => Fw.Packets.Frame.Udp(src, "198.18.8.8", 40000, 9).WithPayload(18).Build();

    [Fact]
    public void AFloodFromSeveralSourcesIsCutToEachOnesRateWhileACalmSourcePasses()
    {
        Deployment.Attach(_veth.Name, Load(Policed), XdpMode.Native);

        long flooded = 0, calmSent = 0;
        double floodSeconds = 0;
        Exception? error = null;
        using var flood = new PacketSender(_veth.Peer, maxFrame: 128, ringFrames: 256);
        using var calm = new PacketSender(_veth.Peer, maxFrame: 128, ringFrames: 16);
        using var stop = new CancellationTokenSource();
        var floodThread = new Thread(() =>
        {
            try
            {
                byte[] frame = Udp("198.18.7.0");
                var sw = Stopwatch.StartNew();
                while (sw.Elapsed < FloodFor)
                    flooded += flood.Send(frame, [VaryField.Low32(26, 2)], 500).Frames;
                floodSeconds = sw.Elapsed.TotalSeconds;
            }
            catch (Exception e)
            {
                error = e;
            }
            finally
            {
                stop.Cancel();
            }
        }) { Name = "flood" };
        floodThread.Start();
        byte[] calmFrame = Udp("198.18.9.9");
        while (!stop.IsCancellationRequested)
        {
            calmSent += calm.Send(calmFrame).Frames;
            Thread.Sleep(1000 / (Rate / 10));
        }
        floodThread.Join();
        Assert.Null(error);
        Thread.Sleep(200);   // the last frames through the veth

        var s = StatsSnapshot.Read(_veth.Name);
        ulong Count(string rule) => s.Rules.Single(r => r.Name == rule).Counter.Total.Packets;
        double expected = Rate * floodSeconds + Burst;
        var passed = Enumerable.Range(0, Sources).Select(i => Count($"from-{i}")).ToList();
        output.WriteLine($"{flooded:N0} flood frames in {floodSeconds:F2} s ({flooded / floodSeconds:N0}/s) from {Sources} sources; "
            + $"passed per source {string.Join(", ", passed.Select(p => p.ToString("N0")))} (rate × time + burst = {expected:N0}); "
            + $"dropped by police {Count("police"):N0}; calm {Count("calm")} of {calmSent}; over {s.LimitOver.Total.Packets:N0}, under {s.LimitUnder.Total.Packets:N0}");
        Assert.True(flooded / floodSeconds / Sources > 2 * Rate, $"the flood was too slow to test the limit: {flooded / floodSeconds:N0} frames/s");
        foreach (var (p, i) in passed.Select((p, i) => (p, i)))
            Assert.True(Math.Abs(p - expected) <= 0.10 * expected, $"source 198.18.7.{i}: {p:N0} passed, not within 10% of {expected:N0}");
        Assert.Equal((ulong)calmSent, Count("calm"));   // under its rate: nothing of it dropped
        Assert.Equal((ulong)flooded, passed.Aggregate(0UL, (a, b) => a + b) + Count("police"));
        Assert.Equal(Count("police"), s.LimitOver.Total.Packets);
        Assert.Equal(passed.Aggregate(0UL, (a, b) => a + b) + Count("calm"), s.LimitUnder.Total.Packets);
    }

    private const string Banning = """
        default: drop
        sets:
          banned: { dynamic: true, timeout: 2 }
        rules:
          - { name: noise, proto: icmpv6, action: pass }
          - { name: drop-banned, src: "@banned", action: drop }
          - name: flood
            proto: udp
            limit: { rate: 100/s, burst: 10, per: src }
            add_to: "@banned"
            action: drop
          - { name: from-a, src: 198.18.7.1, action: pass }
          - { name: from-b, src: 198.18.7.2, action: pass }
        """;

    [Fact]
    public void ASourceOverItsLimitIsBannedUntilItsTimeoutThenPassesAgain()
    {
        Deployment.Attach(_veth.Name, Load(Banning), XdpMode.Native);
        using var sender = new PacketSender(_veth.Peer, maxFrame: 128, ringFrames: 64);
        byte[] a = Udp("198.18.7.1"), b = Udp("198.18.7.2");
        ulong Count(string rule) => StatsSnapshot.Read(_veth.Name).Rules.Single(r => r.Name == rule).Counter.Total.Packets;

        // 50 frames at once: the burst (10) passes, the 11th is over, dropped and banned, the rest meet the ban.
        Assert.Equal(50, sender.Send(a, [], 50).Frames);
        var banned = Stopwatch.StartNew();
        Assert.True(Within(TimeSpan.FromSeconds(2), () => Count("from-a") + Count("flood") + Count("drop-banned") == 50), "the frames were not all classified");
        Assert.Equal(10UL, Count("from-a"));
        Assert.Equal(1UL, Count("flood"));
        Assert.Equal(39UL, Count("drop-banned"));
        using (var set = LiveSetMap.OpenPinned(_veth.Name, "banned"))
        {
            var e = Assert.Single(set.ReadAll());
            Assert.Equal("198.18.7.1/32", e.Prefix.ToString());
            Assert.InRange(e.ExpiresNs - e.AddedNs, 2_000_000_000UL, 2_000_000_000UL);
        }

        // Under its rate now, and still dropped entirely while banned; another source passes all along.
        int during = 0;
        while (banned.Elapsed < TimeSpan.FromSeconds(1.5))
        {
            sender.Send(a);
            sender.Send(b);
            during++;
            Thread.Sleep(50);
        }
        Assert.True(Within(TimeSpan.FromSeconds(2), () => Count("from-b") == (ulong)during), "the other source's frames did not all pass");
        Assert.Equal(10UL, Count("from-a"));
        Assert.Equal(39UL + (ulong)during, Count("drop-banned"));

        // Past the timeout: the entry no longer matches (whether or not a sweep removed it), and the source passes.
        Thread.Sleep(TimeSpan.FromSeconds(2.6) - banned.Elapsed);
        for (int i = 0; i < 5; i++)
        {
            sender.Send(a);
            Thread.Sleep(50);
        }
        Assert.True(Within(TimeSpan.FromSeconds(2), () => Count("from-a") == 15), $"from-a counted {Count("from-a")}, not 15, after the ban expired");
        Assert.Equal(39UL + (ulong)during, Count("drop-banned"));
        var stats = StatsSnapshot.Read(_veth.Name);
        var counts = Assert.Single(stats.LiveSets);
        Assert.Equal(("banned", 1UL, 0UL), (counts.Name, counts.Added, counts.Full));
        output.WriteLine($"banned after 11 frames; {during} frames dropped during the ban, 5 passed after it; set {counts}");
    }

    private static bool Within(TimeSpan bound, Func<bool> condition)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.Elapsed > bound)
                return false;
            Thread.Sleep(10);
        }
        return true;
    }
}
