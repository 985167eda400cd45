using Fw.Bench;
using Fw.Kernel;
using Fw.Testing.Reference;
using Fw.Traffic;
using Fw.Tests.Kernel;
using Fw.Bpf;
using Fw.Control;

namespace Fw.Tests.Bench;

/// <summary>
/// The benchmark's packet mixes do what their names say: every variation the generator can make of a template
/// matches the mix's rule (or none), by the reference evaluator; and the frames the sender rewrites in its TX ring,
/// sent through a veth into fw, all land in that rule's counter.
/// </summary>
public sealed class SyntheticMixTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fw-mix-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData(10, 0)]
    [InlineData(100, 1000)]
    [InlineData(1000, 0)]
    public void EveryVariationMatchesTheMixRule(int rules, int prefixes)
    {
        var c = RulesetCase.Build(_dir, rules, prefixes);
        ulong seq = (ulong)(rules + prefixes) << 32;
        foreach (var mix in c.Mixes)
        {
            foreach (var part in mix.Parts)
            {
                for (int i = 0; i < 200; i++)
                {
                    var frame = (byte[])part.Frame.Clone();
                    VaryField.Apply(frame, part.Vary, seq++);
                    var r = ReferenceEvaluator.Evaluate(c.Check.Ruleset!, frame);
                    Assert.Equal(mix.Rule is null ? Reason.Default : Reason.Rule, r.Reason);
                    Assert.Equal(mix.Rule ?? -1, r.RuleIndex);
                    Assert.Equal(Fw.Rules.RuleAction.Drop, r.Action);
                }
            }
        }
    }

    [Fact]
    public void SentFramesLandInTheMixRuleCounter()
    {
        using var veth = new TestVeth();
        var c = RulesetCase.Build(_dir, 100, 1000);
        Deployment.Attach(veth.Name, c.Check, XdpMode.Native);
        var before = StatsSnapshot.Read(veth.Name);
        using var sender = new PacketSender(veth.Peer, maxFrame: 128);
        ulong sent = 0;
        foreach (var mix in c.Mixes)
        {
            foreach (var part in mix.Parts)
            {
                var run = sender.Send(part.Frame, part.Vary, 20_000);
                Assert.Equal(20_000, run.Frames);
                Assert.Equal(0, run.Refused);
            }
            var s = StatsSnapshot.Read(veth.Name);
            ulong want = (ulong)(20_000 * mix.Parts.Count);
            ulong got = mix.Rule is int i ? s.Rules[i].Counter.Total.Packets - before.Rules[i].Counter.Total.Packets
                : s.Default.Total.Packets - before.Default.Total.Packets;
            Assert.Equal(want, got);
            sent += want;
            before = s;
        }
        Assert.Equal(sent, before.Drop.Total.Packets);
    }
}
