using System.Buffers.Binary;
using System.Net;
using System.Text;
using Fw.Packets;
using Fw.Traffic;

namespace Fw.Bench;

/// <summary>
/// Synthetic rulesets for the scale figures: an optional big prefix set first (rule 0, <c>src: "@big"</c>),
/// then varied rules up to the rule count. Every rule drops, so with <c>default: drop</c> every packet of
/// every mix ends in XDP_DROP, like the bare XDP_DROP baseline.
/// <para>Address plan (traffic only in 198.18.0.0/15 and 2001:db8::/32):</para>
/// <list type="bullet">
/// <item>rule i (IPv4, 3 of 4): src 198.18.{i/256}.{i%256}/32, tcp (i even) or udp, dport 1000 + i;</item>
/// <item>rule i (IPv6, i % 4 == 2): src 2001:db8:{i:x}::/64, udp, dport 1000 + i;</item>
/// <item>so the last rule of 10, 100, 1,000 and 4,096 rules is alike (IPv4, udp, a /32), and the first rule r0 is IPv4 tcp;</item>
/// <item>the set: 198.19.0.0/24 ... 198.19.255.0/24 (what the first-rule mix hits), then random prefixes
/// like a blocklist feed: 80% IPv4 /16-/32 over 1.0.0.0-191.255.255.255, 20% IPv6 /48-/128 in 2001:db8:8000::/33
/// (set contents only: no traffic is sent there);</item>
/// <item>no-match traffic: from 198.18.128.0/17 and 2001:db8:4000::/34 to ports 32768-65535, which no rule
/// and no set prefix covers;</item>
/// <item>stateful variant (connection-tracking cost): two pass rules on top of the same rules, <c>established</c>
/// (<c>state: established</c>) and <c>track-bench</c> (<c>track: true</c>, TCP from 198.18.64.1 or
/// 2001:db8:2000::1 to port 443: the <see cref="Established"/> flows, by the fields the rules below already use, so
/// the per-packet lookups differ only by the state class and the flow table); no other rule, set prefix or
/// no-match packet is there.</item>
/// </list>
/// <para>Packet-log variants (the log's cost): <c>log: {rate: 1000000}</c> and one drop rule <c>log-bench</c> with
/// <c>log: true</c> on top of the same rules: <see cref="BenchLog.Matching"/>, its sources are the no-match traffic's
/// (198.18.128.0/17, 2001:db8:4000::/34), so every packet of that mix is logged; <see cref="BenchLog.Elsewhere"/>, its
/// sources are 198.18.96.0/20 and 2001:db8:3000::/36, where no traffic goes, so the no-match mix is logged by nothing.</para>
/// <para>Live set + limit variant (issue 15's per-packet cost): a live set <c>banned</c> (<c>dynamic: true, timeout: 600,
/// max: 65536</c>) and two rules on top of the same rules: <c>drop-banned</c> (<c>src: "@banned"</c>, drop) and <c>police</c>
/// (<c>proto: tcp</c>, <c>limit: {rate: 1000000000/s, per: src/24}</c>, drop). The bench fills the set after the attach with
/// <see cref="LiveSetEntries"/>: 7,500 IPv4 /32s in 198.18.32.0/19 and 2,500 IPv6 /128s in 2001:db8:f000::/40, where no
/// traffic goes and no rule or set prefix is (198.19.0.0/16 is all the big set's hit block). A no-match packet (TCP) misses
/// the live set (one lookup in its family's part of the trie), is within the police rule's rate (a GCRA check on its /24's
/// bucket, which takes it from the bucket), so that rule does not match, and goes on to the default. The
/// <see cref="BenchLive.Set"/> and <see cref="BenchLive.Limit"/> variants have only one of the two rules on top.</para>
/// <para>For reloads (bench/Fw.Bench.ControlPlane), a variant v &gt; 0 moves every rule's port by 10,000 v, so two
/// variants differ in digest and in every port class; the mixes are those of variant 0. An interface name adds
/// <c>interfaces: [IFACE]</c> for fwd.</para>
/// </summary>
public static class Synthetic
{
    public const string SetName = "big";

    /// <summary>The packet-log variants' rule on top (<c>log: true</c>, <c>action: drop</c>).</summary>
    public const string LogRule = "log-bench";

    /// <summary>The packet-log variants' <c>log: rate</c>: the bucket's most, so it rarely refuses.</summary>
    public const int LogRate = 1_000_000;

    public static string LogRuleSources(BenchLog log) => log == BenchLog.Matching
        ? "[198.18.128.0/17, \"2001:db8:4000::/34\"]"
        : "[198.18.96.0/20, \"2001:db8:3000::/36\"]";

    /// <summary>The live set + limit variant's live set, its rules on top (<c>drop-banned</c>, then <c>police</c>) and entries.</summary>
    public const string LiveSetName = "banned", LiveSetRule = "drop-banned", LimitRule = "police";

    public const int LiveSetTimeout = 600, LiveSetMax = 65536, LiveSetFill = 10_000, LiveRules = 2;

    /// <summary>The police rule's limit: a rate no traffic here reaches, per source /24 (/56 for IPv6).</summary>
    public const string LimitRate = "1000000000/s", LimitPer = "src/24";

    /// <summary>
    /// What the bench puts into the live set after the attach: <paramref name="count"/> whole addresses, 3 IPv4 /32s from
    /// 198.18.32.0/19 to 1 IPv6 /128 from 2001:db8:f000::/40 (hosts spread over it), none where the mixes send.
    /// </summary>
    public static IEnumerable<Fw.Rules.IpPrefix> LiveSetEntries(int count = LiveSetFill)
    {
        if (count < 0 || count > 4 * 8192 / 3)
            throw new ArgumentOutOfRangeException(nameof(count), count, "at most 10,922 entries (8,192 IPv4 hosts in 198.18.32.0/19)");
        UInt128 v6Base = (UInt128)0x20010db8f0UL << 88;
        for (int i = 0; i < count; i++)
        {
            if (i % 4 == 3)
                yield return Fw.Rules.IpPrefix.Create(Fw.Rules.IpFamily.V6, v6Base | (UInt128)(ulong)(i / 4) << 40 | (UInt128)(ulong)(i + 1), 128);
            else
                yield return Fw.Rules.IpPrefix.Create(Fw.Rules.IpFamily.V4, (UInt128)(0xC6122000u + (uint)(i - i / 4)) << 96, 32);
        }
    }

    /// <summary>Rules the stateful variant puts on top: <see cref="EstablishedRule"/>, then the track rule.</summary>
    public const int StateRules = 2;

    /// <summary>The stateful variant's rule 0, <c>state: established</c>, <c>action: pass</c>.</summary>
    public const string EstablishedRule = "established";

    /// <summary>The stateful variant's rule 1, which admits the <see cref="Established"/> flows (<c>track: true</c>).</summary>
    public const string TrackRule = "track-bench";

    /// <summary>The established mix's flows: these sources, TCP, to this port, source ports varied over <see cref="FlowPortBits"/> bits.</summary>
    public const string FlowSrc4 = "198.18.64.1", FlowSrc6 = "2001:db8:2000::1";
    public const ushort FlowDport = 443, FlowSport = 40000;
    public const int FlowPortBits = 3;

    /// <summary>Flows of the established mix: 2^<see cref="FlowPortBits"/> source ports for each family.</summary>
    public const int Flows = 2 << FlowPortBits;

    /// <summary>
    /// Writes rules-N-P[-pass][-vV][-IFACE][-state].yaml (and its set file) into <paramref name="dir"/>; returns its path.
    /// <paramref name="variant"/> shifts every rule's port by 10,000 per variant (0-2: the ports stay below the
    /// no-match range, 32,768 up); <paramref name="iface"/> adds an <c>interfaces:</c> line; <paramref name="stateful"/>
    /// puts the <see cref="StateRules"/> connection-tracking rules on top of the <paramref name="rules"/> rules;
    /// <paramref name="inline"/> writes the set's prefixes into rules.yaml as a YAML list (<c>big:</c> then one
    /// <c>- prefix</c> a line; the same prefixes in the same order as the set file, so the same compiled image)
    /// instead of <c>big: { file: set-P.txt }</c>, and adds <c>-inline</c> to the name.
    /// </summary>
    public static string Write(string dir, int rules, int prefixes, bool defaultDrop = true, int variant = 0, string? iface = null, bool stateful = false, BenchLog log = BenchLog.None, BenchLive live = BenchLive.None, bool inline = false)
    {
        bool liveSet = live is BenchLive.SetAndLimit or BenchLive.Set, limit = live is BenchLive.SetAndLimit or BenchLive.Limit;
        if (live != BenchLive.None && (stateful || log != BenchLog.None || rules > 4096 - LiveRules))
            throw new ArgumentOutOfRangeException(nameof(rules), rules, $"1-{4096 - LiveRules:N0} rules with the live set and limit rules on top, alone");
        if (log != BenchLog.None && rules > 4095)
            throw new ArgumentOutOfRangeException(nameof(rules), rules, "1-4,095 rules with the log rule on top");
        if (rules < 1 || rules > 4096 - (stateful ? StateRules : 0))
            throw new ArgumentOutOfRangeException(nameof(rules), rules, $"1-{4096 - (stateful ? StateRules : 0):N0} rules");
        if (variant < 0 || variant > 2)
            throw new ArgumentOutOfRangeException(nameof(variant), variant, "variants 0-2");
        var yaml = new StringBuilder($"default: {(defaultDrop ? "drop" : "pass")}\n");
        if (iface is not null)
            yaml.Append($"interfaces: [{iface}]\n");
        if (log != BenchLog.None)
            yaml.Append($"log:\n  rate: {LogRate}\n");
        if (prefixes > 0 && inline)
        {
            yaml.Append($"sets:\n  {SetName}:\n");
            foreach (string prefix in SetLines(prefixes))
                yaml.Append("    - ").Append(prefix).Append('\n');
        }
        else if (prefixes > 0)
        {
            string set = Path.Combine(dir, $"set-{prefixes}.txt");
            if (!File.Exists(set))
                File.WriteAllLines(set, SetLines(prefixes));
            yaml.Append($"sets:\n  {SetName}: {{ file: {Path.GetFileName(set)} }}\n");
        }
        if (liveSet)
            yaml.Append(prefixes > 0 ? "" : "sets:\n").Append($"  {LiveSetName}: {{ dynamic: true, timeout: {LiveSetTimeout}, max: {LiveSetMax} }}\n");
        yaml.Append("rules:\n");
        if (stateful)
        {
            yaml.Append($"  - name: {EstablishedRule}\n    state: established\n    action: pass\n");
            yaml.Append($"  - name: {TrackRule}\n    src: [{FlowSrc4}, \"{FlowSrc6}\"]\n    proto: tcp\n    dport: {FlowDport}\n    track: true\n    action: pass\n");
        }
        if (log != BenchLog.None)
            yaml.Append($"  - name: {LogRule}\n    src: {LogRuleSources(log)}\n    log: true\n    action: drop\n");
        if (liveSet)
            yaml.Append($"  - name: {LiveSetRule}\n    src: \"@{LiveSetName}\"\n    action: drop\n");
        if (limit)
            yaml.Append($"  - name: {LimitRule}\n    proto: tcp\n    limit: {{ rate: {LimitRate}, per: {LimitPer} }}\n    action: drop\n");
        int first = 0;
        if (prefixes > 0)
        {
            yaml.Append($"  - name: big-set\n    src: \"@{SetName}\"\n    action: drop\n");
            first = 1;
        }
        for (int i = first; i < rules; i++)
            yaml.Append($"  - name: r{i}\n    src: {RuleSource(i)}\n    proto: {RuleProto(i)}\n    dport: {1000 + i + 10_000 * variant}\n    action: drop\n");
        string name = $"rules-{rules}-{prefixes}{(defaultDrop ? "" : "-pass")}{(variant == 0 ? "" : $"-v{variant}")}{(iface is null ? "" : "-" + iface)}{(stateful ? "-state" : "")}{live switch { BenchLive.SetAndLimit => "-live", BenchLive.Set => "-liveset", BenchLive.Limit => "-limit", _ => "" }}{log switch { BenchLog.Matching => "-log", BenchLog.Elsewhere => "-log-elsewhere", _ => "" }}{(inline ? "-inline" : "")}";
        string path = Path.Combine(dir, name + ".yaml");
        File.WriteAllText(path, yaml.ToString());
        return path;
    }

    private static bool IsV6Rule(int i) => i % 4 == 2;

    private static string RuleSource(int i) => IsV6Rule(i) ? $"\"2001:db8:{i:x}::/64\"" : $"198.18.{i / 256}.{i % 256}/32";

    private static string RuleProto(int i) => IsV6Rule(i) || i % 2 == 1 ? "udp" : "tcp";

    // Frame offsets of the untagged frames Fw.Packets builds: Ethernet 14 bytes, IPv4 20, IPv6 40.
    public const int V4Src = 26, V4Dst = 30, V4Sport = 34, V4Dport = 36;
    public const int V6Src = 22, V6Dst = 38, V6Sport = 54, V6Dport = 56;

    /// <summary>The packet mix that hits rule 0: the set's hit block, or rule r0 when there is no set.</summary>
    public static Mix First(int rules, int prefixes)
    {
        if (prefixes > 0)
        {
            // 198.19.x.y: in one of the 256 /24s of the hit block; any port.
            var f = Frame.Tcp("198.19.0.1", "198.18.255.1", 32768, 32768, TcpFlags.Ack).WithPayload(18).Build();
            return new Mix("first", 0, [new MixPart(f, [VaryField.Low32(V4Src, 16), VaryField.Low16(V4Sport, 15), VaryField.Low16(V4Dport, 15)], 1)]);
        }
        return RuleMix("first", 0);
    }

    /// <summary>The packet mix that matches only the last rule.</summary>
    public static Mix Last(int rules, int prefixes) =>
        prefixes > 0 && rules == 1 ? First(rules, prefixes) with { Name = "last" } : RuleMix("last", rules - 1);

    /// <summary>Packets that match no rule (the default path): 3 IPv4 frames to 1 IPv6, varied sources and ports.</summary>
    public static Mix NoMatch()
    {
        var v4 = Frame.Tcp("198.18.128.1", "198.18.255.1", 32768, 32768, TcpFlags.Ack).WithPayload(18).Build();
        var v6 = Frame.Tcp("2001:db8:4000::1", "2001:db8:ffff::1", 32768, 32768, TcpFlags.Ack).WithPayload(18).Build();
        return new Mix("no match", null,
        [
            new MixPart(v4, [VaryField.Low32(V4Src, 15), VaryField.Low16(V4Sport, 15), VaryField.Low16(V4Dport, 15)], 3),
            new MixPart(v6, [VaryField.Low32(V6Src + 12, 32), VaryField.Low32(V6Src + 8, 32), VaryField.Low16(V6Sport, 15), VaryField.Low16(V6Dport, 15)], 1),
        ]);
    }

    /// <summary>
    /// Packets of a few fixed flows that the stateful variant's track rule admits: 3 IPv4 frames to 1 IPv6, TCP ACK
    /// from <see cref="FlowSrc4"/> / <see cref="FlowSrc6"/> to port <see cref="FlowDport"/>, the source port varied over
    /// 2^<see cref="FlowPortBits"/> values (<see cref="Flows"/> flows). The first packet of each flow is new and goes
    /// into the table (rule <see cref="TrackRule"/>); every later one is established (rule 0, <see cref="EstablishedRule"/>).
    /// </summary>
    public static Mix Established()
    {
        var v4 = Frame.Tcp(FlowSrc4, "198.18.255.1", FlowSport, FlowDport, TcpFlags.Ack).WithPayload(18).Build();
        var v6 = Frame.Tcp(FlowSrc6, "2001:db8:ffff::1", FlowSport, FlowDport, TcpFlags.Ack).WithPayload(18).Build();
        return new Mix("established", 0,
        [
            new MixPart(v4, [VaryField.Low16(V4Sport, FlowPortBits)], 3),
            new MixPart(v6, [VaryField.Low16(V6Sport, FlowPortBits)], 1),
        ]);
    }

    /// <summary>Traffic matching rule <paramref name="i"/> (a synthetic rule, not the set): varied host part (IPv6) or destination (IPv4), and source port.</summary>
    private static Mix RuleMix(string name, int i)
    {
        ushort port = (ushort)(1000 + i);
        if (IsV6Rule(i))
        {
            var f = Frame.Udp($"2001:db8:{i:x}::1", "2001:db8:ffff::1", 32768, port).WithPayload(18).Build();
            return new Mix(name, i, [new MixPart(f, [VaryField.Low32(V6Src + 12, 32), VaryField.Low32(V6Src + 8, 32), VaryField.Low16(V6Sport, 15)], 1)]);
        }
        string src = $"198.18.{i / 256}.{i % 256}";
        var frame = (i % 2 == 0 ? Frame.Tcp(src, "198.19.0.1", 32768, port, TcpFlags.Ack) : Frame.Udp(src, "198.19.0.1", 32768, port)).WithPayload(18).Build();
        return new Mix(name, i, [new MixPart(frame, [VaryField.Low32(V4Dst, 16), VaryField.Low16(V4Sport, 15)], 1)]);
    }

    /// <summary>A blocklist-like set of <paramref name="count"/> distinct prefixes, one a line (see the class summary).</summary>
    private static IEnumerable<string> SetLines(int count)
    {
        var rng = new Random(count);
        var seen = new HashSet<(UInt128, int)>();
        for (int x = 0; x < 256 && seen.Count < count; x++)
        {
            seen.Add(((UInt128)(0xC6130000u | (uint)x << 8), 24));
            yield return $"198.19.{x}.0/24";
        }
        while (seen.Count < count)
        {
            if (rng.Next(5) > 0)
            {
                int[] lens = [16, 20, 22, 24, 24, 24, 24, 28, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32];
                int len = lens[rng.Next(lens.Length)];
                uint a = (uint)rng.NextInt64(0x01000000L, 0xC0000000L) & uint.MaxValue << (32 - len);
                if (seen.Add(((UInt128)a, len)))
                    yield return $"{a >> 24}.{a >> 16 & 255}.{a >> 8 & 255}.{a & 255}/{len}";
            }
            else
            {
                int[] lens = [48, 56, 64, 64, 128];
                int len = lens[rng.Next(lens.Length)];
                UInt128 random = (UInt128)(ulong)rng.NextInt64() << 64 | (ulong)rng.NextInt64();
                UInt128 a = ((UInt128)0x20010db8UL << 96 | (UInt128)1 << 95 | random >> 33) & UInt128.MaxValue << (128 - len);
                if (seen.Add((a, len)))
                    yield return $"{new IPAddress(ToBytes(a))}/{len}";
            }
        }
    }

    private static byte[] ToBytes(UInt128 a)
    {
        var b = new byte[16];
        BinaryPrimitives.WriteUInt128BigEndian(b, a);
        return b;
    }
}

/// <summary>
/// The live set + limit variants of a synthetic ruleset (see <see cref="Synthetic"/>): both rules on top, or only
/// one of them (the live set rule, or the limit rule), to tell their costs apart.
/// </summary>
public enum BenchLive
{
    None,
    SetAndLimit,
    Set,
    Limit,
}

/// <summary>The packet-log variants of a synthetic ruleset (see <see cref="Synthetic"/>).</summary>
public enum BenchLog
{
    None,
    Matching,
    Elsewhere,
}

/// <summary>One template of a mix: the frame, what the generator varies in it, and its share of the packets.</summary>
public sealed record MixPart(byte[] Frame, IReadOnlyList<VaryField> Vary, int Weight);

/// <summary>
/// A packet mix: templates sent in turn by weight (in chunks, per generator thread). <see cref="Rule"/> is the
/// rule index every packet of the mix matches, or null: no rule (the default).
/// </summary>
public sealed record Mix(string Name, int? Rule, IReadOnlyList<MixPart> Parts)
{
    /// <summary>The frame BPF_PROG_TEST_RUN repeats for the per-packet cost (the first template).</summary>
    public byte[] CostFrame => Parts[0].Frame;
}
