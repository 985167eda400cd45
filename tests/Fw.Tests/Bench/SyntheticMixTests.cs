using Fw.Bench;
using Fw.Kernel;
using Fw.Testing.Reference;
using Fw.Traffic;
using Fw.Tests.Kernel;

namespace Fw.Tests.Bench;

/// <summary>
/// The benchmark's packet mixes do what their names say: every variation the generator can make of a template
/// matches the mix's rule (or none), by the reference evaluator; and the live generator's rewritten frames, sent
/// through a veth into fw, all land in that rule's counter.
/// </summary>
public sealed class SyntheticMixTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fw-mix-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>The generator's rewrite (fw_trafficgen.bpf.c) in C#: the mask's bits from r, big-endian.</summary>
    private static byte[] Vary(byte[] frame, IReadOnlyList<VaryField> fields, Random rng)
    {
        var f = (byte[])frame.Clone();
        foreach (var v in fields)
        {
            uint r = (uint)rng.NextInt64(0, 1L << 32);
            if (v.Width == 2)
            {
                uint x = (uint)(f[v.Offset] << 8 | f[v.Offset + 1]);
                x = (x & ~v.Mask) | (r & v.Mask);
                f[v.Offset] = (byte)(x >> 8);
                f[v.Offset + 1] = (byte)x;
            }
            else
            {
                uint x = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(f.AsSpan(v.Offset));
                System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(f.AsSpan(v.Offset), (x & ~v.Mask) | (r & v.Mask));
            }
        }
        return f;
    }

    [Theory]
    [InlineData(10, 0)]
    [InlineData(100, 1000)]
    [InlineData(1000, 0)]
    public void EveryVariationMatchesTheMixRule(int rules, int prefixes)
    {
        var c = RulesetCase.Build(_dir, rules, prefixes);
        var rng = new Random(rules + prefixes);
        foreach (var mix in c.Mixes)
        {
            foreach (var part in mix.Parts)
            {
                for (int i = 0; i < 200; i++)
                {
                    var frame = Vary(part.Frame, part.Vary, rng);
                    var r = ReferenceEvaluator.Evaluate(c.Check.Ruleset!, frame);
                    Assert.Equal(mix.Rule is null ? Reason.Default : Reason.Rule, r.Reason);
                    Assert.Equal(mix.Rule ?? -1, r.RuleIndex);
                    Assert.Equal(Fw.Rules.RuleAction.Drop, r.Action);
                }
            }
        }
    }

    [Fact]
    public void LiveGeneratedFramesLandInTheMixRuleCounter()
    {
        using var veth = new TestVeth();
        var c = RulesetCase.Build(_dir, 100, 1000);
        Firewall.Attach(veth.Name, c.Check, c.Path, XdpMode.Native);
        var before = StatsSnapshot.Read(veth.Name);
        ulong sent = 0;
        foreach (var mix in c.Mixes)
        {
            foreach (var part in mix.Parts)
            {
                using var gen = new LiveFrames(part.Vary);
                var run = gen.Send(veth.Peer, part.Frame, 20_000);
                Assert.Equal(20_000, run.Frames);
                Assert.True(run.KernelNs > 0);
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
