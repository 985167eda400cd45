using Fw.Bpf;
using Fw.Compiler;
using Fw.Kernel;
using Fw.Packets;
using Fw.Rules;
using Fw.Tests.Kernel;

namespace Fw.Tests.LiveSets;

/// <summary>
/// A ruleset with live sets, built in code (the YAML key is another change's): "banned" (timeout 600 s, max 1,000)
/// named in src by a drop rule, "allow" (no timeout, max 4) that only fwctl fills. Attached to a test veth.
/// </summary>
internal static class LiveSetRules
{
    private static readonly SourcePos Pos = new("t.yaml", 1, 1);

    public static IpPrefix P(string s) => PrefixParser.TryParse(s, out IpPrefix p) == PrefixError.None ? p : throw new ArgumentException(s);

    public static PrefixSet Live(string name, uint? timeout, int max) =>
        new() { Name = name, Prefixes = [], Pos = Pos, Dynamic = true, Timeout = timeout, Max = max };

    public static Ruleset Rules(int bannedMax = 1000, int allowMax = 4)
    {
        var banned = Live("banned", 600, bannedMax);
        var allow = Live("allow", null, allowMax);
        return new Ruleset
        {
            File = "t.yaml",
            Sets = new Dictionary<string, PrefixSet> { ["banned"] = banned, ["allow"] = allow },
            Rules =
            [
                new Rule
                {
                    Index = 0, Name = "drop-banned", Pos = Pos, Action = RuleAction.Drop,
                    Src = new AddressMatch { Prefixes = [], Sets = [banned] },
                },
            ],
        };
    }

    public static void Attach(string iface, Ruleset rs) =>
        Firewall.Attach(iface, RulesetCompiler.Compile(rs), new ImageOrigin("/dev/null", 0), XdpMode.Native);

    /// <summary>The attached program's verdict for <paramref name="f"/> (BPF_PROG_TEST_RUN on the pinned dispatcher).</summary>
    public static XdpAction Live(string iface, Frame f)
    {
        using var prog = FdHandle.OpenPinned(PinLayout.Prog(iface));
        return BpfObject.TestRun(prog.Fd, f.Build()).Verdict;
    }

    /// <summary>Distinct /32s from 10.0.0.0 on, <paramref name="count"/> of them starting at the <paramref name="from"/>-th.</summary>
    public static List<IpPrefix> Hosts(int from, int count) =>
        Enumerable.Range(from, count).Select(i => new IpPrefix(IpFamily.V4, (UInt128)(0x0A00_0000u + (uint)i) << 96, 32)).ToList();
}

/// <summary>
/// <see cref="Fw.Kernel.LiveSets"/> on a real attached interface: add (new, renewed, a full set), delete, flush,
/// sync (100,000 entries, then a list half new), the sweep of expired entries, the counters each one moves, an
/// unknown set named with the sets there are, and an entry deciding the attached program's next packet.
/// </summary>
public sealed class LiveSetsTests : IDisposable
{
    private readonly TestVeth _veth = new();

    public void Dispose() => _veth.Dispose();

    private string Iface => _veth.Name;

    private static IpPrefix P(string s) => LiveSetRules.P(s);

    private LiveSetListing Set(string name) => Assert.Single(Fw.Kernel.LiveSets.List(Iface, name));

    /// <summary>
    /// A reload waiting for confirmation that changes a set's max pins a new trie; its revert pins the old one again
    /// (the one the reverted-to generation uses), so what fwctl set adds after the revert decides packets.
    /// </summary>
    [Fact]
    public void ARevertPinsTheLiveSetsTheRevertedToGenerationUses()
    {
        LiveSetRules.Attach(Iface, LiveSetRules.Rules());
        Fw.Kernel.LiveSets.Add(Iface, "banned", [P("198.18.0.5/32")]);
        uint before;
        using (var set = LiveSetMap.OpenPinned(Iface, "banned"))
            before = set.Entries.Id;

        var noTimer = new ConfirmRequest(TimeSpan.FromMinutes(5), _ => { });
        Firewall.Reload(Iface, RulesetCompiler.Compile(LiveSetRules.Rules(bannedMax: 2000)), new ImageOrigin("/dev/null", 0), noTimer);
        using (var set = LiveSetMap.OpenPinned(Iface, "banned"))
        {
            Assert.NotEqual(before, set.Entries.Id);   // a new max: a new trie, the entry copied
            Assert.Equal(2000, set.Max);
            Assert.Single(set.ReadAll());
        }
        Assert.Equal(XdpAction.Drop, LiveSetRules.Live(Iface, Frame.Udp("198.18.0.5", "192.0.2.1", 53, 53)));

        Assert.NotNull(Firewall.Revert(Iface));
        using (var set = LiveSetMap.OpenPinned(Iface, "banned"))
            Assert.Equal(before, set.Entries.Id);
        Fw.Kernel.LiveSets.Add(Iface, "banned", [P("198.18.0.6/32")]);
        Assert.Equal(XdpAction.Drop, LiveSetRules.Live(Iface, Frame.Udp("198.18.0.6", "192.0.2.1", 53, 53)));
        Assert.Equal(XdpAction.Drop, LiveSetRules.Live(Iface, Frame.Udp("198.18.0.5", "192.0.2.1", 53, 53)));
        Assert.Equal(XdpAction.Pass, LiveSetRules.Live(Iface, Frame.Udp("198.18.0.7", "192.0.2.1", 53, 53)));
    }

    [Fact]
    public void AddRenewDeleteAndFlushMoveEntriesAndCounters()
    {
        LiveSetRules.Attach(Iface, LiveSetRules.Rules());
        Assert.Equal(["allow", "banned"], Fw.Kernel.LiveSets.Names(Iface));
        var frame = Frame.Udp("198.18.0.5", "192.0.2.1", 53, 53);
        Assert.Equal(XdpAction.Pass, LiveSetRules.Live(Iface, frame));

        ulong before = KernelClock.CoarseNs();
        var c = Fw.Kernel.LiveSets.Add(Iface, "banned", [P("198.18.0.5"), P("2001:db8::/32")]);
        Assert.Equal(new LiveSetChange(2, 0, 0), c);
        Assert.Equal(XdpAction.Drop, LiveSetRules.Live(Iface, frame));   // the entry decides the next packet

        var listed = Set("banned");
        Assert.Equal(2, listed.Counts.Entries);
        Assert.Equal(1000, listed.Counts.Max);
        Assert.Equal(600u, listed.Counts.Timeout);
        Assert.Equal(2UL, listed.Counts.Added);
        Assert.Equal([P("198.18.0.5/32"), P("2001:db8::/32")], listed.Entries.Select(e => e.Prefix));
        Assert.All(listed.Entries, e => Assert.InRange(e.ExpiresNs, before + 599_000_000_000UL, KernelClock.CoarseNs() + 600_000_000_000UL));

        // Again, with a timeout of its own: renewed, not added; 0 is never.
        c = Fw.Kernel.LiveSets.Add(Iface, "banned", [P("198.18.0.5"), P("198.18.0.5")], timeoutSeconds: 0);
        Assert.Equal(new LiveSetChange(0, 1, 0), c);
        Assert.Equal(0UL, Set("banned").Entries.Single(e => e.Prefix == P("198.18.0.5/32")).ExpiresNs);
        Assert.Equal(2UL, Set("banned").Counts.Added);

        c = Fw.Kernel.LiveSets.Delete(Iface, "banned", [P("198.18.0.5"), P("203.0.113.0/24")]);
        Assert.Equal(new LiveSetChange(0, 0, 1, Absent: 1), c);
        Assert.Equal(XdpAction.Pass, LiveSetRules.Live(Iface, frame));
        Assert.Equal(1UL, Set("banned").Counts.Removed);

        c = Fw.Kernel.LiveSets.Flush(Iface, "banned");
        Assert.Equal(new LiveSetChange(0, 0, 1), c);
        listed = Set("banned");
        Assert.Empty(listed.Entries);
        Assert.Equal(2UL, listed.Counts.Removed);

        // A set no rule names (only fwctl fills it) is there too, without a timeout: its entries never expire.
        Fw.Kernel.LiveSets.Add(Iface, "allow", [P("192.0.2.0/24")]);
        Assert.Equal(0UL, Assert.Single(Set("allow").Entries).ExpiresNs);
        Assert.Null(Set("allow").Counts.Timeout);
    }

    [Fact]
    public void AFullSetTakesWhatFitsAndSaysHowManyWentIn()
    {
        LiveSetRules.Attach(Iface, LiveSetRules.Rules());
        var c = Fw.Kernel.LiveSets.Add(Iface, "allow", LiveSetRules.Hosts(0, 6));
        Assert.Equal(new LiveSetChange(4, 0, 0, Refused: 2), c);
        Assert.Equal(4, Set("allow").Counts.Entries);
        Assert.Equal(4UL, Set("allow").Counts.Added);
        Assert.Contains("4 of 6 prefixes went in, 2 refused", c.FullError(Iface, "allow", 4, 6));
        // Renewing what is there needs no room.
        Assert.Equal(new LiveSetChange(0, 4, 0), Fw.Kernel.LiveSets.Add(Iface, "allow", LiveSetRules.Hosts(0, 4)));
        // A list longer than the set is refused whole.
        var e = Assert.Throws<FirewallException>(() => Fw.Kernel.LiveSets.Sync(Iface, "allow", LiveSetRules.Hosts(100, 5)));
        Assert.Equal(FirewallError.SetFull, e.Error);
        Assert.Equal(LiveSetRules.Hosts(0, 4), Set("allow").Entries.Select(x => x.Prefix));
    }

    [Fact]
    public void AnUnknownSetIsAnErrorNamingTheSetsThereAre()
    {
        LiveSetRules.Attach(Iface, LiveSetRules.Rules());
        var e = Assert.Throws<FirewallException>(() => Fw.Kernel.LiveSets.Add(Iface, "nosuch", [P("192.0.2.1")]));
        Assert.Equal(FirewallError.UnknownSet, e.Error);
        Assert.Equal($"{Iface}: no live set 'nosuch' (its live sets: allow, banned)", e.Message);
        Assert.Throws<FirewallException>(() => Fw.Kernel.LiveSets.List(Iface, "nosuch"));
        Assert.Throws<ArgumentException>(() => Fw.Kernel.LiveSets.Flush(Iface, "../banned"));
    }

    [Fact]
    public void TheSweepRemovesExpiredEntriesOnly()
    {
        LiveSetRules.Attach(Iface, LiveSetRules.Rules());
        ulong now = KernelClock.CoarseNs();
        using (var set = LiveSetMap.OpenPinned(Iface, "banned"))
        {
            set.Put(P("198.18.0.1/32"), now - 1, now - 2);
            set.Put(P("198.18.0.2/32"), now + 60_000_000_000UL, now);
            set.Put(P("198.18.0.3/32"), 0, now);
        }
        Assert.Equal(1, Fw.Kernel.LiveSets.Sweep(Iface, now));
        var listed = Set("banned");
        Assert.Equal([P("198.18.0.2/32"), P("198.18.0.3/32")], listed.Entries.Select(e => e.Prefix));
        Assert.Equal(1UL, listed.Counts.Expired);
        Assert.Equal(0UL, listed.Counts.Removed);
        Assert.Equal(1, Fw.Kernel.LiveSets.Sweep(Iface, now + 61_000_000_000UL));   // later, the second has expired too
        Assert.Equal([P("198.18.0.3/32")], Set("banned").Entries.Select(e => e.Prefix));
        Assert.Equal(2UL, Set("banned").Counts.Expired);
    }

    [Fact]
    public void SyncOfAHundredThousandEntriesLeavesExactlyTheList()
    {
        LiveSetRules.Attach(Iface, LiveSetRules.Rules(bannedMax: 131_072));
        var first = LiveSetRules.Hosts(0, 100_000);
        var c = Fw.Kernel.LiveSets.Sync(Iface, "banned", first);
        Assert.Equal(new LiveSetChange(100_000, 0, 0), c);
        Assert.Equal(first.Order(), Set("banned").Entries.Select(e => e.Prefix).Order());

        // Half of it again, and 50,000 new: the old half renewed, the other half removed, the new ones added.
        var second = LiveSetRules.Hosts(50_000, 100_000);
        c = Fw.Kernel.LiveSets.Sync(Iface, "banned", second);
        Assert.Equal(new LiveSetChange(50_000, 50_000, 50_000), c);
        var listed = Set("banned");
        Assert.Equal(second.Order(), listed.Entries.Select(e => e.Prefix).Order());
        Assert.Equal(150_000UL, listed.Counts.Added);
        Assert.Equal(50_000UL, listed.Counts.Removed);
        Assert.Equal(XdpAction.Drop, LiveSetRules.Live(Iface, Frame.Udp("10.1.134.160", "192.0.2.1", 53, 53)));   // host 100,000
        Assert.Equal(XdpAction.Pass, LiveSetRules.Live(Iface, Frame.Udp("10.0.0.1", "192.0.2.1", 53, 53)));       // host 1, gone

        Assert.Equal(new LiveSetChange(0, 0, 100_000), Fw.Kernel.LiveSets.Sync(Iface, "banned", []));
        Assert.Empty(Set("banned").Entries);
    }
}
