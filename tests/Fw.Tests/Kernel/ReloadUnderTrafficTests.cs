using Fw.Compiler;
using Fw.Kernel;
using Fw.Packets;
using Fw.Traffic;
using Xunit.Abstractions;
using Fw.Bpf;
using Fw.Control;

namespace Fw.Tests.Kernel;

/// <summary>
/// 1,000 reloads alternating between two rulesets while real traffic flows through the attached program:
/// frames written from user space into the veth's peer (an AF_PACKET TX ring, <see cref="PacketSender"/>),
/// their source address and port varied per frame within what both rulesets' rule t covers. Every frame sent
/// must be counted by t, so a frame lost between generations or classified by a half-written ruleset fails it.
/// The rulesets are chosen so that a packet classified by a mix of their maps gets a verdict neither gives alone:
///   A: t pass {src T, udp, dport 150}, u pass {src U, udp, dport 151}; default drop
///   B: u pass {src U, udp, dport 151}, t pass {src T, udp, dport 150}; default drop
/// The traffic is T -> udp 150: A passes it by rule 0, B by rule 1 (both named t, so its counter
/// carries over every reload). A's src vector for T is {0} and B's dport vector for 150 is {1}:
/// their AND is empty, so a packet classified by a mix would take the default, drop.
/// </summary>
[Collection(Fw.Tests.LiveSets.FloodCollection.Name)]
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

    private const string T = "198.18.7.0/24", U = "198.18.9.9";

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
        var check = RulesCheck.Check(path);
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
        Deployment.Attach(_veth.Name, a.Check, XdpMode.Native);

        long sent = 0, refused = 0;
        using var stop = new CancellationTokenSource();
        Exception? trafficError = null;
        using var sender = new PacketSender(_veth.Peer, maxFrame: 128, ringFrames: 256);
        var traffic = new Thread(() =>
        {
            try
            {
                byte[] frame = Frame();
                while (!stop.IsCancellationRequested)
                {
                    var r = sender.Send(frame, Vary, 2000, stop.Token);
                    Interlocked.Add(ref sent, r.Frames);
                    Interlocked.Add(ref refused, r.Refused);
                }
            }
            catch (Exception e)
            {
                trafficError = e;
            }
        }) { IsBackground = true, Name = "traffic" };
        traffic.Start();

        var took = new List<double>();
        try
        {
            for (int i = 0; i < Reloads; i++)
            {
                var next = i % 2 == 0 ? b : a;
                took.Add(Deployment.Reload(_veth.Name, next.Check).Took.TotalMilliseconds);
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
        output.WriteLine($"{Reloads} reloads (median {took.Order().ElementAt(took.Count / 2):N1} ms), {sent:N0} frames sent ({refused} refused), " +
            $"{ours:N0} passed by t, {noise:N0} by noise, drops {s.Drop.Total.Packets}, default {s.Default.Total.Packets}");
        Assert.Equal((ulong)Reloads + 1, s.Generation);
        Assert.True(sent >= 100_000, $"only {sent:N0} frames were sent during the reloads");
        Assert.Equal(0, refused);
        // Every frame sent was classified and passed by t: none by a mix of generations (default, drop),
        // none lost between generations (the counters add up to what was sent).
        Assert.Equal((ulong)sent, ours);
        Assert.Equal(0UL, s.Drop.Total.Packets);
        Assert.Equal(0UL, s.Default.Total.Packets);
        Assert.Equal(0UL, s.Malformed.Total.Packets);
        Assert.Equal(0UL, s.NoRuleset.Total.Packets);
        Assert.Equal(0UL, s.Rules.Single(r => r.Name == "u").Counter.Total.Packets);
        // Every packet that arrived was passed, by t or (any kernel chatter on the pair) by noise.
        Assert.Equal(s.Pass.Total.Packets, ours + noise);
    }

    // Source 198.18.7.0/24 host part and source port vary per frame; T's rule is the /24 in both rulesets.
    private static readonly VaryField[] Vary = [VaryField.Low32(26, 8), VaryField.Low16(34, 16)];

    // To a foreign MAC: what the host's stack sees of it after XDP_PASS it discards (PACKET_OTHERHOST).
    private static byte[] Frame() => Fw.Packets.Frame.Udp("198.18.7.7", "198.18.8.8", 40000, 150).WithPayload(18).Build();
}
