using Fw.Bpf;
using Fw.Compiler;
using Fw.Kernel;
using Fw.Packets;
using Fw.Rules;

namespace Fw.Tests.LiveSets;

/// <summary>
/// The classifier with live sets and limits, table by table with BPF_PROG_TEST_RUN (no attach): a flood over its
/// limit goes into the ban set by add_to and is then dropped by the ban rule; an entry added by the control plane
/// decides the next packet and its removal the one after; an expired entry no longer matches while a shorter one
/// under it does; a pass quota lets its burst through and no more.
/// </summary>
public sealed class LiveSetKernelTests
{
    private static readonly SourcePos Pos = new("t.yaml", 1, 1);

    private static IpPrefix P(string s) => PrefixParser.TryParse(s, out IpPrefix p) == PrefixError.None ? p : throw new ArgumentException(s);

    private static PrefixSet Live(string name, uint? timeout = 600, int max = 1000) =>
        new() { Name = name, Prefixes = [], Pos = Pos, Dynamic = true, Timeout = timeout, Max = max };

    private static Ruleset Rules(PrefixSet[] sets, params Rule[] rules) => new()
    {
        File = "t.yaml", Sets = sets.ToDictionary(s => s.Name), Rules = rules,
    };

    private static Rule R(int i, string name, RuleAction action, AddressMatch? src = null, RuleLimit? limit = null,
        PrefixSet? addTo = null, IReadOnlyList<byte>? proto = null) =>
        new() { Index = i, Name = name, Pos = Pos, Action = action, Src = src, Limit = limit, AddTo = addTo, Proto = proto };

    private static AddressMatch Src(PrefixSet set, params string[] prefixes) => new() { Prefixes = prefixes.Select(P).ToList(), Sets = [set] };

    private static (XdpAction Verdict, uint Rule) Run(Classifier c, Frame f)
    {
        var r = c.TestRun(f.Build());
        var t = c.ReadTrace();
        return (r.Verdict, t.Rule);
    }

    [Fact]
    public void AFloodOverItsLimitIsBannedAndThenDroppedByTheBanRule()
    {
        var banned = Live("banned");
        var rs = Rules([banned],
            R(0, "drop-banned", RuleAction.Drop, src: Src(banned)),
            R(1, "flood", RuleAction.Drop, proto: [Ruleset.ProtoTcp], addTo: banned,
                limit: new RuleLimit { Rate = 1, PeriodSeconds = 60, Burst = 2 }));
        using var c = Classifier.Load(RulesetCompiler.Compile(rs), new ClassifierOptions { Trace = true });
        var a = Frame.Tcp("198.18.0.5", "192.0.2.1", 40000, 80);
        var b = Frame.Tcp("198.18.0.6", "192.0.2.1", 40000, 80);
        Assert.Equal((XdpAction.Pass, uint.MaxValue), Run(c, a));   // within the burst: the flood rule does not match
        Assert.Equal((XdpAction.Pass, uint.MaxValue), Run(c, a));
        Assert.Equal((XdpAction.Drop, 1u), Run(c, a));              // over: dropped, and banned
        Assert.Equal((XdpAction.Drop, 0u), Run(c, a));              // banned
        Assert.Equal((XdpAction.Pass, uint.MaxValue), Run(c, b));   // another source has its own bucket
        var e = Assert.Single(c.LiveSet("banned").ReadAll());
        Assert.Equal(P("198.18.0.5/32"), e.Prefix);
        ulong now = KernelClock.CoarseNs();
        Assert.InRange(e.ExpiresNs, now + 590_000_000_000UL, now + 600_000_000_000UL);
        Assert.Equal(1UL, c.LiveSet("banned").Counter(FwSetCounter.Added));
        Assert.Equal(1UL, c.ReadCounter((uint)FwStatSlot.LimitOver).Packets);
        Assert.Equal(3UL, c.ReadCounter((uint)FwStatSlot.LimitUnder).Packets);
    }

    [Fact]
    public void AnEntryDecidesTheNextPacketAndExpiredOnesStopMatching()
    {
        var blocked = Live("blocked", timeout: null);
        var rs = Rules([blocked], R(0, "drop-blocked", RuleAction.Drop, src: Src(blocked, "192.0.2.99/32")));
        using var c = Classifier.Load(RulesetCompiler.Compile(rs), new ClassifierOptions { Trace = true });
        var set = c.LiveSet("blocked");
        var f = Frame.Udp("198.18.7.1", "192.0.2.1", 53, 53);
        Assert.Equal(XdpAction.Pass, Run(c, f).Verdict);
        Assert.Equal(XdpAction.Drop, Run(c, Frame.Udp("192.0.2.99", "192.0.2.1", 53, 53)).Verdict);   // the static prefix beside it
        ulong now = KernelClock.CoarseNs();
        set.Put(P("198.18.0.0/16"), 0, now);
        Assert.Equal((XdpAction.Drop, 0u), Run(c, f));
        set.Put(P("198.18.7.0/24"), now - 1, now);   // expired, longer: the /16 under it still matches
        Assert.Equal((XdpAction.Drop, 0u), Run(c, f));
        Assert.True(set.Remove(P("198.18.0.0/16")));
        Assert.Equal(XdpAction.Pass, Run(c, f).Verdict);   // only the expired /24 is left
        set.Put(P("2001:db8::/32"), now + 3_600_000_000_000UL, now);
        Assert.Equal(XdpAction.Drop, Run(c, Frame.Udp("2001:db8::5", "2001:db8:1::1", 53, 53)).Verdict);
        Assert.Equal(XdpAction.Pass, Run(c, Frame.Udp("2001:db9::5", "2001:db8:1::1", 53, 53)).Verdict);
    }

    [Fact]
    public void APassQuotaLetsItsBurstThroughAndNoMore()
    {
        var rs = new Ruleset
        {
            File = "t.yaml", Default = RuleAction.Drop,
            Rules = [R(0, "quota", RuleAction.Pass, limit: new RuleLimit { Rate = 1, PeriodSeconds = 60, Burst = 3, PerRule = true })],
        };
        using var c = Classifier.Load(RulesetCompiler.Compile(rs), new ClassifierOptions { Trace = true });
        var verdicts = Enumerable.Range(0, 5).Select(i => Run(c, Frame.Udp($"198.18.0.{i + 1}", "192.0.2.1", 53, 53)).Verdict).ToList();
        Assert.Equal([XdpAction.Pass, XdpAction.Pass, XdpAction.Pass, XdpAction.Drop, XdpAction.Drop], verdicts);
    }
}
