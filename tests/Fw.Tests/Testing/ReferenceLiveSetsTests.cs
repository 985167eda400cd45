using System.Net;
using Fw.Packets;
using Fw.Rules;
using Fw.Testing.Reference;
using Xunit;

namespace Fw.Tests.Testing;

/// <summary>
/// The oracle's live sets and limits against issue 15's "Data plane semantics", sentence by sentence: an entry
/// stops matching at its expiry, expired entries are looked past (8 at most), families are apart, a GCRA bucket
/// lets its burst through and then one packet an interval, per source prefix or per rule, add_to refreshes and
/// refuses past max; and the evaluator's first match with limits passed over and add_to after the verdict.
/// </summary>
public class ReferenceLiveSetsTests
{
    const ulong S = 1_000_000_000UL;
    const ulong T0 = 1_000 * S;   // "now" at the start of each test, far from 0 so now - x never wraps

    static readonly SourcePos Pos = new("table", 1, 1);

    static IpPrefix P(string text)
    {
        string[] parts = text.Split('/');
        var address = IpPrefix.FromAddress(IPAddress.Parse(parts[0]));
        return parts.Length == 1 ? address : IpPrefix.Create(address.Family, address.Bits, int.Parse(parts[1]));
    }

    static ReferenceLiveSets Sets(int max = 100)
    {
        var sets = new ReferenceLiveSets();
        sets.Declare("s", max);
        return sets;
    }

    // ---- Membership -------------------------------------------------------------------------------

    [Fact]
    public void An_entry_matches_until_the_moment_it_expires()
    {
        var sets = Sets();
        sets.Add("s", P("198.18.0.0/16"), T0 + 5 * S);
        Assert.True(sets.Contains("s", P("198.18.3.4"), T0));
        Assert.True(sets.Contains("s", P("198.18.3.4"), T0 + 5 * S - 1));
        Assert.False(sets.Contains("s", P("198.18.3.4"), T0 + 5 * S));
        Assert.False(sets.Contains("s", P("198.18.3.4"), T0 + 6 * S));
        Assert.False(sets.Contains("s", P("198.19.3.4"), T0));
    }

    [Fact]
    public void An_entry_without_an_expiry_never_expires()
    {
        var sets = Sets();
        sets.Add("s", P("2001:db8::/32"), 0);
        Assert.True(sets.Contains("s", P("2001:db8::1"), ulong.MaxValue));
    }

    [Fact]
    public void An_expired_entry_is_looked_past_to_a_shorter_live_one()
    {
        var sets = Sets();
        sets.Add("s", P("198.18.0.0/16"), 0);
        sets.Add("s", P("198.18.7.0/24"), T0 - 1);
        sets.Add("s", P("198.18.7.1/32"), T0);
        Assert.True(sets.Contains("s", P("198.18.7.1"), T0));
        Assert.True(sets.Remove("s", P("198.18.0.0/16")));
        Assert.False(sets.Contains("s", P("198.18.7.1"), T0));   // only expired entries cover it
        Assert.True(sets.Contains("s", P("198.18.7.1"), T0 - 1)); // ... which were live a moment ago
        Assert.False(sets.Remove("s", P("198.18.0.0/16")));
    }

    [Fact]
    public void At_most_eight_expired_entries_are_looked_past()
    {
        var sets = Sets();
        sets.Add("s", P("198.18.0.0/15"), 0);   // live, under eight expired ones: found
        for (int len = 24; len < 32; len++)
            sets.Add("s", P($"198.18.7.1/{len}"), T0);
        Assert.Equal(9, sets.Entries("s").Count);
        Assert.False(sets.Contains("s", P("198.18.7.1"), T0));   // the live one is the ninth covering entry
        Assert.True(sets.Contains("s", P("198.18.7.1"), T0 - 1));
        Assert.True(sets.Remove("s", P("198.18.7.1/31")));
        Assert.True(sets.Contains("s", P("198.18.7.1"), T0));    // now the eighth
    }

    [Fact]
    public void Families_are_apart()
    {
        var sets = Sets();
        sets.Add("s", P("0.0.0.0/0"), 0);
        Assert.True(sets.Contains("s", P("203.0.113.9"), T0));
        Assert.False(sets.Contains("s", P("::ffff:203.0.113.9"), T0));   // IPv4-mapped IPv6 is IPv6
        Assert.False(sets.Contains("s", P("2001:db8::1"), T0));
        sets.Add("s", P("::/0"), 0);
        Assert.True(sets.Contains("s", P("::ffff:203.0.113.9"), T0));
    }

    [Fact]
    public void A_full_set_refuses_a_new_prefix_but_replaces_one_it_has()
    {
        var sets = Sets(max: 1);
        Assert.True(sets.Add("s", P("198.18.0.1"), 0));
        Assert.False(sets.Add("s", P("198.18.0.2"), 0));
        Assert.True(sets.Add("s", P("198.18.0.1"), T0));
        Assert.Equal(T0, sets.Entries("s")[P("198.18.0.1")]);
    }

    // ---- add_to ----------------------------------------------------------------------------------

    static AddToOutcome AddTo(ReferenceLiveSets sets, string address, uint? timeout, ulong now)
    {
        var host = P(address);
        return sets.AddTo("s", host.Family, host.Bits, timeout, now);
    }

    [Fact]
    public void Add_to_adds_a_host_entry_expiring_a_timeout_later()
    {
        var sets = Sets();
        Assert.Equal(AddToOutcome.Added, AddTo(sets, "198.18.0.5", 600, T0));
        Assert.Equal(AddToOutcome.Added, AddTo(sets, "2001:db8::5", null, T0));
        Assert.Equal(T0 + 600 * S, sets.Entries("s")[P("198.18.0.5/32")]);
        Assert.Equal(0UL, sets.Entries("s")[P("2001:db8::5/128")]);
        Assert.Equal(2, sets.AddedCount("s"));
    }

    [Fact]
    public void Add_to_refreshes_only_by_a_second_or_more()
    {
        var sets = Sets();
        AddTo(sets, "198.18.0.5", 600, T0);
        Assert.Equal(AddToOutcome.Unchanged, AddTo(sets, "198.18.0.5", 600, T0 + S - 1));
        Assert.Equal(T0 + 600 * S, sets.Entries("s")[P("198.18.0.5")]);
        Assert.Equal(AddToOutcome.Refreshed, AddTo(sets, "198.18.0.5", 600, T0 + S));
        Assert.Equal(T0 + 601 * S, sets.Entries("s")[P("198.18.0.5")]);
        Assert.Equal(AddToOutcome.Unchanged, AddTo(sets, "198.18.0.5", 60, T0 + 2 * S));   // an earlier expiry: kept
        Assert.Equal(AddToOutcome.Refreshed, AddTo(sets, "198.18.0.5", null, T0 + 2 * S)); // never: later than any
        Assert.Equal(0UL, sets.Entries("s")[P("198.18.0.5")]);
        Assert.Equal(AddToOutcome.Unchanged, AddTo(sets, "198.18.0.5", 600, T0 + 3 * S));  // never expires: stays so
        Assert.Equal((1L, 2L, 0L), (sets.AddedCount("s"), sets.RefreshedCount("s"), sets.FullCount("s")));
    }

    [Fact]
    public void Add_to_adds_an_expired_entry_again()
    {
        var sets = Sets();
        sets.Add("s", P("198.18.0.5"), T0);
        Assert.Equal(AddToOutcome.Added, AddTo(sets, "198.18.0.5", 10, T0));   // expired at T0 exactly
        Assert.Equal(T0 + 10 * S, sets.Entries("s")[P("198.18.0.5")]);
        Assert.Equal(1, sets.AddedCount("s"));
    }

    [Fact]
    public void Add_to_a_covering_prefix_adds_the_host_beside_it()
    {
        var sets = Sets();
        sets.Add("s", P("198.18.0.0/24"), T0 + 100 * S);
        Assert.Equal(AddToOutcome.Added, AddTo(sets, "198.18.0.5", 600, T0));
        Assert.Equal(2, sets.Entries("s").Count);
    }

    [Fact]
    public void Add_to_a_full_set_is_refused_and_counted_but_refreshes_what_it_has()
    {
        var sets = Sets(max: 2);
        sets.Add("s", P("198.18.0.0/16"), T0 - 1);   // expired, still counts until removed
        Assert.Equal(AddToOutcome.Added, AddTo(sets, "198.18.0.5", 60, T0));
        Assert.Equal(AddToOutcome.Full, AddTo(sets, "198.18.0.6", 60, T0));
        Assert.Equal(AddToOutcome.Full, AddTo(sets, "2001:db8::6", 60, T0));
        Assert.Equal(AddToOutcome.Refreshed, AddTo(sets, "198.18.0.5", 60, T0 + 5 * S));
        Assert.Equal((1L, 1L, 2L), (sets.AddedCount("s"), sets.RefreshedCount("s"), sets.FullCount("s")));
        Assert.False(sets.Contains("s", P("198.18.0.6"), T0));
    }

    // ---- Limits ----------------------------------------------------------------------------------

    static readonly RuleLimit TenPerSecondBurst3 = new() { Rate = 10, PeriodSeconds = 1, Burst = 3 };

    [Fact]
    public void A_bucket_lets_its_burst_through_then_one_packet_an_interval()
    {
        var limits = new ReferenceLimits();
        var src = P("198.18.0.1");
        ulong interval = TenPerSecondBurst3.IntervalNs;
        Assert.Equal(100_000_000UL, interval);
        var over = Enumerable.Range(0, 5).Select(_ => limits.Check(0, TenPerSecondBurst3, src, T0)).ToList();
        Assert.Equal([false, false, false, true, true], over);
        Assert.True(limits.Check(0, TenPerSecondBurst3, src, T0 + interval - 1));
        Assert.False(limits.Check(0, TenPerSecondBurst3, src, T0 + interval));   // one interval on: one more
        Assert.True(limits.Check(0, TenPerSecondBurst3, src, T0 + interval));
        Assert.False(limits.Check(0, TenPerSecondBurst3, src, T0 + 10 * S));    // long quiet: full again
        Assert.False(limits.Check(0, TenPerSecondBurst3, src, T0 + 10 * S));
        Assert.False(limits.Check(0, TenPerSecondBurst3, src, T0 + 10 * S));
        Assert.True(limits.Check(0, TenPerSecondBurst3, src, T0 + 10 * S));
        Assert.Equal((5L, 7L), (limits.Over, limits.Within));
    }

    [Fact]
    public void An_over_packet_takes_nothing()
    {
        var limits = new ReferenceLimits();
        var one = new RuleLimit { Rate = 1, PeriodSeconds = 1, Burst = 1 };
        var src = P("198.18.0.1");
        Assert.False(limits.Check(0, one, src, T0));
        for (int i = 0; i < 100; i++)
            Assert.True(limits.Check(0, one, src, T0 + S - 1));
        Assert.False(limits.Check(0, one, src, T0 + S));   // as if the 100 had not come
    }

    [Fact]
    public void Sources_share_a_bucket_by_their_prefix_and_family()
    {
        var limits = new ReferenceLimits();
        var (len4, len6) = RuleLimit.PerSource(24);
        var per24 = new RuleLimit { Rate = 1, PeriodSeconds = 60, Burst = 1, Len4 = len4, Len6 = len6 };
        Assert.False(limits.Check(0, per24, P("198.18.7.1"), T0));
        Assert.True(limits.Check(0, per24, P("198.18.7.200"), T0));     // the same /24
        Assert.False(limits.Check(0, per24, P("198.18.8.1"), T0));      // the next one
        Assert.False(limits.Check(1, per24, P("198.18.7.2"), T0));      // another rule's bucket
        Assert.False(limits.Check(0, per24, P("2001:db8:0:1::1"), T0)); // IPv6 by /56
        Assert.True(limits.Check(0, per24, P("2001:db8:0:ff::2"), T0));
        Assert.False(limits.Check(0, per24, P("2001:db8:0:100::2"), T0));
        Assert.False(limits.Check(0, per24, P("::"), T0));               // :: is not 0.0.0.0
        Assert.False(limits.Check(0, per24, P("0.0.0.0"), T0));
        Assert.Equal(7, limits.Buckets);
    }

    [Fact]
    public void Per_rule_is_one_bucket_for_every_source_and_family()
    {
        var limits = new ReferenceLimits();
        var perRule = new RuleLimit { Rate = 1, PeriodSeconds = 60, Burst = 2, PerRule = true };
        Assert.False(limits.Check(3, perRule, P("198.18.7.1"), T0));
        Assert.False(limits.Check(3, perRule, P("2001:db8::1"), T0));
        Assert.True(limits.Check(3, perRule, P("192.0.2.1"), T0));
        Assert.Equal(1, limits.Buckets);
    }

    // ---- The evaluator with both -----------------------------------------------------------------

    static PrefixSet Live(string name, uint? timeout = 600, int max = 100) =>
        new() { Name = name, Prefixes = [], Pos = Pos, Dynamic = true, Timeout = timeout, Max = max };

    static Rule R(int i, RuleAction action, AddressMatch? src = null, AddressMatch? dst = null, RuleLimit? limit = null,
        PrefixSet? addTo = null, byte[]? proto = null) =>
        new() { Index = i, Name = $"rule-{i + 1}", Pos = Pos, Action = action, Src = src, Dst = dst, Limit = limit, AddTo = addTo, Proto = proto };

    static AddressMatch In(PrefixSet set, params string[] prefixes) => new() { Prefixes = prefixes.Select(P).ToList(), Sets = [set] };

    static Ruleset Rs(RuleAction defaultAction, PrefixSet[] sets, params Rule[] rules) => new()
    {
        File = "table", Default = defaultAction, Sets = sets.ToDictionary(s => s.Name), Rules = rules,
    };

    [Fact]
    public void A_live_set_in_src_or_dst_matches_its_entries_beside_the_rules_prefixes()
    {
        var banned = Live("banned");
        var rs = Rs(RuleAction.Pass, [banned], R(0, RuleAction.Drop, src: In(banned, "192.0.2.99")), R(1, RuleAction.Drop, dst: In(banned)));
        var sets = new ReferenceLiveSets(rs);
        var limits = new ReferenceLimits();
        byte[] f = Frame.Udp("198.18.0.1", "192.0.2.1", 53, 53).Build();
        Assert.Equal(new Result(RuleAction.Pass, Reason.Default, -1), ReferenceEvaluator.Evaluate(rs, f, sets, limits, T0).Result);
        Assert.Equal(ReferenceEvaluator.Evaluate(rs, f), ReferenceEvaluator.Evaluate(rs, f, sets, limits, T0).Result);
        sets.Add("banned", P("192.0.2.0/24"), T0 + S);
        Assert.Equal(1, ReferenceEvaluator.Evaluate(rs, f, sets, limits, T0).Result.RuleIndex);       // dst
        Assert.Equal(RuleAction.Pass, ReferenceEvaluator.Evaluate(rs, f, sets, limits, T0 + S).Result.Action);
        sets.Add("banned", P("198.18.0.1"), 0);
        Assert.Equal(0, ReferenceEvaluator.Evaluate(rs, f, sets, limits, T0 + S).Result.RuleIndex);   // src
        Assert.Equal(0, ReferenceEvaluator.Evaluate(rs, Frame.Udp("192.0.2.99", "192.0.2.1", 53, 53).Build(), sets, limits, T0).Result.RuleIndex);
    }

    [Fact]
    public void A_drop_limit_matches_over_packets_and_within_ones_go_on_taking_tokens()
    {
        var banned = Live("banned");
        var flood = new RuleLimit { Rate = 1, PeriodSeconds = 60, Burst = 2 };
        var rs = Rs(RuleAction.Pass, [banned],
            R(0, RuleAction.Drop, src: In(banned)),
            R(1, RuleAction.Drop, proto: [Ruleset.ProtoTcp], limit: flood, addTo: banned),
            R(2, RuleAction.Pass, proto: [Ruleset.ProtoTcp]));
        var sets = new ReferenceLiveSets(rs);
        var limits = new ReferenceLimits();
        byte[] a = Frame.Tcp("198.18.0.5", "192.0.2.1", 40000, 80).Build();
        LiveResult Run(byte[] f) => ReferenceEvaluator.Evaluate(rs, f, sets, limits, T0);
        Assert.Equal(new LiveResult(new Result(RuleAction.Pass, Reason.Rule, 2), 1, false), Run(a));
        Assert.Equal(new LiveResult(new Result(RuleAction.Pass, Reason.Rule, 2), 1, false), Run(a));
        Assert.Empty(sets.Entries("banned"));
        Assert.Equal(new LiveResult(new Result(RuleAction.Drop, Reason.Rule, 1), 0, true), Run(a));   // over: dropped and banned
        Assert.Equal(T0 + 600 * S, sets.Entries("banned")[P("198.18.0.5")]);
        Assert.Equal(new LiveResult(new Result(RuleAction.Drop, Reason.Rule, 0), 0, false), Run(a));  // banned: no limit checked
        Assert.Equal((1L, 2L), (limits.Over, limits.Within));
        Assert.Equal(2, Run(Frame.Tcp("198.18.0.6", "192.0.2.1", 40000, 80).Build()).Result.RuleIndex);   // its own bucket
    }

    [Fact]
    public void A_pass_quota_matches_within_packets_and_over_ones_go_on()
    {
        var quota = new RuleLimit { Rate = 1, PeriodSeconds = 60, Burst = 2, PerRule = true };
        var rs = Rs(RuleAction.Drop, [],
            R(0, RuleAction.Pass, proto: [Ruleset.ProtoUdp], limit: quota),
            R(1, RuleAction.Pass, limit: quota, src: new AddressMatch { Prefixes = [P("198.18.0.0/15")], Sets = [] }));
        var sets = new ReferenceLiveSets(rs);
        var limits = new ReferenceLimits();
        var results = Enumerable.Range(0, 6)
            .Select(i => ReferenceEvaluator.Evaluate(rs, Frame.Udp($"198.18.0.{i + 1}", "192.0.2.1", 53, 53).Build(), sets, limits, T0))
            .Select(r => (r.Result.Action, r.Result.RuleIndex, r.LimitsPassedOver))
            .ToList();
        Assert.Equal(
        [
            (RuleAction.Pass, 0, 0), (RuleAction.Pass, 0, 0),   // rule 0's quota
            (RuleAction.Pass, 1, 1), (RuleAction.Pass, 1, 1),   // then rule 1's
            (RuleAction.Drop, -1, 2), (RuleAction.Drop, -1, 2), // then the default
        ], results);
        Assert.Equal((6L, 4L), (limits.Over, limits.Within));
    }
}
