using Fw.Compiler;
using Fw.Kernel;
using Fw.Packets;
using Fw.Traffic;
using Xunit.Abstractions;

namespace Fw.Tests.Kernel;

/// <summary>
/// 1,000 reloads alternating between two rulesets while live-frames traffic flows through the
/// attached program. The rulesets are chosen so that a packet classified by a mix of their maps
/// gets a verdict neither gives alone:
///   A: t pass {src T, udp, dport 150}, u pass {src U, udp, dport 151}; default drop
///   B: u pass {src U, udp, dport 151}, t pass {src T, udp, dport 150}; default drop
/// The traffic is T -> udp 150: A passes it by rule 0, B by rule 1 (both named t, so its counter
/// carries over every reload). A's src vector for T is {0} and B's dport vector for 150 is {1}:
/// their AND is empty, so a packet classified by a mix would take the default, drop.
/// </summary>
public sealed class ReloadUnderTrafficTests(ITestOutputHelper output) : IDisposable
{
    public const int Reloads = 1000;

    private readonly TestVeth _veth = new();
    private readonly string _dir = Directory.CreateTempSubdirectory("fw-swap-").FullName;

    public void Dispose()
    {
        _veth.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private const string T = "198.18.7.7", U = "198.18.9.9";

    // The kernel's own IPv6 chatter on the veth (MLD, ND) passes by "noise" in both.
    private const string A = $$"""
        default: drop
        rules:
          - { name: t, src: {{T}}, proto: udp, dport: 150, action: pass }
          - { name: u, src: {{U}}, proto: udp, dport: 151, action: pass }
          - { name: noise, proto: icmpv6, action: pass }
        """;

    private const string B = $$"""
        default: drop
        rules:
          - { name: u, src: {{U}}, proto: udp, dport: 151, action: pass }
          - { name: t, src: {{T}}, proto: udp, dport: 150, action: pass }
          - { name: noise, proto: icmpv6, action: pass }
        """;

    private (CheckResult Check, string Path) Load(string name, string yaml)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, yaml);
        var check = RulesCheck.Check(path, Classifier.ResolveInterface);
        Assert.True(check.Ok, string.Join("\n", check.Diagnostics));
        return (check, path);
    }

    [Fact]
    public void NoPacketIsEverClassifiedByAMixOfTwoGenerations()
    {
        var a = Load("a.yaml", A);
        var b = Load("b.yaml", B);
        Assert.Equal(Fw.Rules.RuleAction.Pass, Fw.Testing.Reference.ReferenceEvaluator.Evaluate(a.Check.Ruleset!, Frame()).Action);
        Assert.Equal(Fw.Rules.RuleAction.Pass, Fw.Testing.Reference.ReferenceEvaluator.Evaluate(b.Check.Ruleset!, Frame()).Action);
        Firewall.Attach(_veth.Name, a.Check, a.Path, XdpMode.Native);

        using var gen = new LiveFrames();
        long sent = 0;
        using var stop = new CancellationTokenSource();
        Exception? trafficError = null;
        var traffic = new Thread(() =>
        {
            try
            {
                byte[] frame = Frame();
                while (!stop.IsCancellationRequested)
                {
                    gen.Send(_veth.Peer, frame, 2000);
                    Interlocked.Add(ref sent, 2000);
                }
            }
            catch (Exception e)
            {
                trafficError = e;
            }
        }) { IsBackground = true, Name = "live frames" };
        traffic.Start();

        var took = new List<double>();
        try
        {
            for (int i = 0; i < Reloads; i++)
            {
                var next = i % 2 == 0 ? b : a;
                took.Add(Firewall.Reload(_veth.Name, next.Check, next.Path).Took.TotalMilliseconds);
            }
        }
        finally
        {
            stop.Cancel();
            traffic.Join();
        }
        Assert.Null(trafficError);

        var s = StatsSnapshot.Read(_veth.Name);
        ulong ours = s.Rules.Single(r => r.Name == "t").Counter.Total.Packets;
        ulong noise = s.Rules.Single(r => r.Name == "noise").Counter.Total.Packets;
        output.WriteLine($"{Reloads} reloads (median {took.Order().ElementAt(took.Count / 2):N1} ms), {sent:N0} frames sent, " +
            $"{ours:N0} passed by t, {noise:N0} by noise, drops {s.Drop.Total.Packets}, default {s.Default.Total.Packets}");
        Assert.Equal((ulong)Reloads + 1, s.Generation);
        Assert.True(ours > 0, "no traffic reached the firewall");
        Assert.True(ours <= (ulong)sent);
        // The mixed verdict never happened, and nothing both rulesets pass was dropped.
        Assert.Equal(0UL, s.Drop.Total.Packets);
        Assert.Equal(0UL, s.Default.Total.Packets);
        Assert.Equal(0UL, s.Malformed.Total.Packets);
        Assert.Equal(0UL, s.NoRuleset.Total.Packets);
        Assert.Equal(0UL, s.Rules.Single(r => r.Name == "u").Counter.Total.Packets);
        // Every packet that arrived was passed, by t or (the kernel's IPv6 chatter) by noise.
        Assert.Equal(s.Pass.Total.Packets, ours + noise);
    }

    // To a foreign MAC: what the host's stack sees of it after XDP_PASS it discards (PACKET_OTHERHOST).
    private static byte[] Frame() => Fw.Packets.Frame.Udp(T, "198.18.8.8", 40000, 150).WithPayload(18).Build();
}
