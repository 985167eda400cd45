using System.Net;
using System.Net.Sockets;

namespace Fw.Rules;

// The parsed, validated form of rules.yaml: the rules contract as data. Every
// consumer (the compiler, the reference evaluator in tests, fwctl) reads this;
// none of them parses YAML again.

public enum RuleAction : byte
{
    Pass = 0,
    Drop = 1,
    Redirect = 2,
}

/// <summary>A place in a rules file: 1-based line and column, as diagnostics print them.</summary>
public readonly record struct SourcePos(string File, int Line, int Column)
{
    public override string ToString() => $"{File}:{Line}:{Column}";
}

public enum IpFamily : byte
{
    V4 = 4,
    V6 = 6,
}

/// <summary>
/// An IPv4 or IPv6 prefix. <see cref="Bits"/> holds the address left-aligned in 128 bits for both
/// families (an IPv4 address occupies the top 32 bits), so ordering and containment are family-uniform.
/// Host bits below <see cref="Length"/> are always zero.
/// Stored as two ulong halves (<see cref="Hi"/>, <see cref="Lo"/>), not a UInt128 field: crossgen2 does not precompile
/// (ReadyToRun) a method that handles a struct holding a UInt128, so every method over prefixes would start as tier-0
/// JIT code in a cold fwctl. Equality and ordering are those of (Family, Bits, Length).
/// </summary>
public readonly record struct IpPrefix : IComparable<IpPrefix>
{
    public IpPrefix(IpFamily family, UInt128 bits, byte length)
        : this(family, (ulong)(bits >> 64), (ulong)bits, length)
    {
    }

    public IpPrefix(IpFamily family, ulong hi, ulong lo, byte length)
    {
        Family = family;
        Hi = hi;
        Lo = lo;
        Length = length;
    }

    public IpFamily Family { get; init; }

    /// <summary>The high 64 bits of <see cref="Bits"/>.</summary>
    public ulong Hi { get; init; }

    /// <summary>The low 64 bits of <see cref="Bits"/>.</summary>
    public ulong Lo { get; init; }

    public byte Length { get; init; }

    /// <summary>The address left-aligned in 128 bits.</summary>
    public UInt128 Bits
    {
        get => new(Hi, Lo);
        init => (Hi, Lo) = ((ulong)(value >> 64), (ulong)value);
    }

    public void Deconstruct(out IpFamily family, out UInt128 bits, out byte length) => (family, bits, length) = (Family, Bits, Length);

    public int MaxLength => Family == IpFamily.V4 ? 32 : 128;

    public static UInt128 MaskOf(int length) => length == 0 ? UInt128.Zero : UInt128.MaxValue << (128 - length);

    /// <summary>The high 64 bits of <see cref="MaskOf"/>(length): for code kept free of UInt128 (precompiled).</summary>
    public static ulong MaskHi(int length) => length == 0 ? 0 : length >= 64 ? ulong.MaxValue : ulong.MaxValue << (64 - length);

    /// <summary>The low 64 bits of <see cref="MaskOf"/>(length).</summary>
    public static ulong MaskLo(int length) => length <= 64 ? 0 : ulong.MaxValue << (128 - length);

    public static IpPrefix Create(IpFamily family, UInt128 bits, int length) =>
        new(family, bits & MaskOf(length), (byte)length);

    /// <summary>The address in its family's width (IPv4: the low 32 bits of the result).</summary>
    public UInt128 Address => Family == IpFamily.V4 ? Bits >> 96 : Bits;

    public bool Contains(IpPrefix other) =>
        other.Family == Family && other.Length >= Length && (other.Bits & MaskOf(Length)) == Bits;

    public int CompareTo(IpPrefix other)
    {
        int c = Family.CompareTo(other.Family);
        if (c != 0)
            return c;
        c = Hi.CompareTo(other.Hi);
        if (c != 0)
            return c;
        c = Lo.CompareTo(other.Lo);
        return c != 0 ? c : Length.CompareTo(other.Length);
    }

    public IPAddress ToIPAddress()
    {
        Span<byte> b = stackalloc byte[16];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt128BigEndian(b, Bits);
        return new IPAddress(Family == IpFamily.V4 ? b[..4] : b);
    }

    public override string ToString() => $"{ToIPAddress()}/{Length}";

    public static IpPrefix FromAddress(IPAddress address)
    {
        Span<byte> b = stackalloc byte[16];
        b.Clear();
        address.TryWriteBytes(b, out int n);
        var family = address.AddressFamily == AddressFamily.InterNetwork ? IpFamily.V4 : IpFamily.V6;
        return new IpPrefix(family, System.Buffers.Binary.BinaryPrimitives.ReadUInt128BigEndian(b), (byte)(n * 8));
    }
}

/// <summary>An inclusive port range; a single port has Low == High.</summary>
public readonly record struct PortRange(ushort Low, ushort High)
{
    public bool Contains(int port) => port >= Low && port <= High;

    public override string ToString() => Low == High ? $"{Low}" : $"{Low}-{High}";
}

/// <summary>tcp_flags: packet matches when (flags &amp; Mask) == Value. Bit order as in the TCP header byte 13.</summary>
public readonly record struct TcpFlagsMatch(byte Mask, byte Value)
{
    public const byte Fin = 0x01, Syn = 0x02, Rst = 0x04, Psh = 0x08, Ack = 0x10, Urg = 0x20, Ece = 0x40, Cwr = 0x80;

    public static readonly IReadOnlyList<(string Name, byte Bit)> Names =
    [
        ("fin", Fin), ("syn", Syn), ("rst", Rst), ("psh", Psh),
        ("ack", Ack), ("urg", Urg), ("ece", Ece), ("cwr", Cwr),
    ];

    public override string ToString()
    {
        byte mask = Mask, value = Value;
        return string.Join(",", Names.Where(n => (mask & n.Bit) != 0).Select(n => ((value & n.Bit) != 0 ? "" : "!") + n.Name));
    }
}

/// <summary>
/// A named prefix set, referenced from rules as "@name": static (an inline list or a file, fixed at load) or live
/// (`dynamic: true`: empty at its first load, its entries added and removed at run time, each with an optional
/// expiry, kept across reloads while the set stays live under its name).
/// </summary>
public sealed class PrefixSet
{
    /// <summary>Entries a live set holds when its `max` is not given.</summary>
    public const int DefaultMax = 65536;

    /// <summary>Bounds of a live set's `max` and `timeout` (seconds).</summary>
    public const int MinMax = 1, MaxMax = 16_777_216;
    public const uint MinTimeout = 1, MaxTimeout = 31_536_000;

    public required string Name { get; init; }

    /// <summary>A static set's prefixes; a live set's is empty (its entries are in the kernel).</summary>
    public required IReadOnlyList<IpPrefix> Prefixes { get; init; }
    public required SourcePos Pos { get; init; }
    /// <summary>The set's file, resolved against the rules file's folder; null for an inline list.</summary>
    public string? File { get; init; }

    /// <summary>`dynamic: true`: a live set.</summary>
    public bool Dynamic { get; init; }

    /// <summary>A live set's `timeout` in seconds: the expiry of entries added without one; null: they stay until removed.</summary>
    public uint? Timeout { get; init; }

    /// <summary>A live set's `max`: entries at most.</summary>
    public int Max { get; init; } = DefaultMax;
}

/// <summary>
/// `limit:` of a rule: a token bucket per source (or source prefix, or one for the rule). A drop rule matches only
/// the packets over it; a pass rule (an allow-quota) only those within it. Either way a packet the limit does not
/// match goes on to the next rule.
/// </summary>
public sealed record RuleLimit
{
    /// <summary>Packets per <see cref="PeriodSeconds"/>.</summary>
    public required uint Rate { get; init; }

    /// <summary>1 for N/s, 60 for N/m.</summary>
    public required uint PeriodSeconds { get; init; }

    /// <summary>Packets a full bucket lets through at once (default: one second's worth, at least 1).</summary>
    public required uint Burst { get; init; }

    /// <summary>`per: rule`: one bucket for the rule.</summary>
    public bool PerRule { get; init; }

    /// <summary>`per: src/N`: the prefix length of an IPv4 source's bucket (32: each address).</summary>
    public byte Len4 { get; init; } = 32;

    /// <summary>... and of an IPv6 source's (128: each address).</summary>
    public byte Len6 { get; init; } = 128;

    /// <summary>ns between two packets at the rate (GCRA's emission interval).</summary>
    public ulong IntervalNs => PeriodSeconds * 1_000_000_000UL / Rate;

    /// <summary>How far ahead of time a bucket may run: (burst - 1) intervals.</summary>
    public ulong ToleranceNs => (Burst - 1) * IntervalNs;

    /// <summary>The default burst of a rate: one second's worth, at least one packet.</summary>
    public static uint DefaultBurst(uint rate, uint periodSeconds) => Math.Max(1, (rate + periodSeconds - 1) / periodSeconds);

    /// <summary>
    /// The prefix lengths of `per: src/N`: N &lt;= 32 groups IPv4 sources by /N and IPv6 ones by /(N + 32) (an
    /// IPv4 host is an IPv6 /64); N &gt; 32 groups IPv6 sources by /N and IPv4 ones per address.
    /// </summary>
    public static (byte Len4, byte Len6) PerSource(int n) => n <= 32 ? ((byte)n, (byte)(n + 32)) : ((byte)32, (byte)n);

    /// <summary>As written: "50/s burst 100 per src".</summary>
    public override string ToString()
    {
        string per = PerRule ? "rule" : (Len4, Len6) == (32, 128) ? "src" : Len4 < 32 ? $"src/{Len4}" : $"src/{Len6}";
        return $"{Rate}/{(PeriodSeconds == 1 ? "s" : "m")} burst {Burst} per {per}";
    }
}

/// <summary>
/// src or dst: the prefixes written in the rule plus the sets it names. The rule matches an address
/// when any listed prefix, or any prefix of any named set, contains it. Sets are shared, not copied.
/// </summary>
public sealed class AddressMatch
{
    public required IReadOnlyList<IpPrefix> Prefixes { get; init; }
    public required IReadOnlyList<PrefixSet> Sets { get; init; }

    /// <summary>Every prefix the field names, sets included (a set's prefixes may repeat across sets).</summary>
    public IEnumerable<IpPrefix> AllPrefixes() => Prefixes.Concat(Sets.SelectMany(s => s.Prefixes));

    public int PrefixCount => Prefixes.Count + Sets.Sum(s => s.Prefixes.Count);
}

public sealed class Rule
{
    /// <summary>0-based position in the rules list: the first match is the lowest index.</summary>
    public required int Index { get; init; }
    /// <summary>The rule's name, or "rule-N" with N = Index + 1.</summary>
    public required string Name { get; init; }
    public required SourcePos Pos { get; init; }

    // A null field is absent and matches anything.
    public AddressMatch? Src { get; init; }
    public AddressMatch? Dst { get; init; }
    /// <summary>IP protocol numbers (tcp = 6, udp = 17, icmp = 1, icmpv6 = 58).</summary>
    public IReadOnlyList<byte>? Proto { get; init; }
    public IReadOnlyList<PortRange>? Sport { get; init; }
    public IReadOnlyList<PortRange>? Dport { get; init; }
    public TcpFlagsMatch? TcpFlags { get; init; }
    public IReadOnlyList<byte>? IcmpType { get; init; }

    /// <summary>The connection states the rule matches (`state:`); null: any.</summary>
    public ConnState? State { get; init; }

    public required RuleAction Action { get; init; }
    /// <summary>The interface for redirect; null otherwise.</summary>
    public string? To { get; init; }

    /// <summary>`track: true` (pass rules only): the flow of a packet this rule passes goes into fw's table.</summary>
    public bool Track { get; init; }

    /// <summary>`log`: the frames this rule decides are logged one in N (1: every one, `log: true`); null: not logged.</summary>
    public uint? LogEvery { get; init; }

    /// <summary>`limit`: the rule matches only packets over it (drop) or within it (pass); null: no limit.</summary>
    public RuleLimit? Limit { get; init; }

    /// <summary>`add_to: "@set"`: the live set the source of a packet this rule decides goes into; null: none.</summary>
    public PrefixSet? AddTo { get; init; }

    /// <summary>Where each key of the rule stands ("src", "dport", ...), for diagnostics after parsing.</summary>
    public IReadOnlyDictionary<string, SourcePos> KeyPos { get; init; } = new Dictionary<string, SourcePos>();

    public SourcePos PosOf(string key) => KeyPos.TryGetValue(key, out var p) ? p : Pos;
}

public sealed class Ruleset
{
    public const byte ProtoIcmp = 1, ProtoTcp = 6, ProtoUdp = 17, ProtoIcmpV6 = 58;

    /// <summary>The rules file this was read from (as given), for diagnostics.</summary>
    public required string File { get; init; }
    public RuleAction Default { get; init; } = RuleAction.Pass;
    public RuleAction Malformed { get; init; } = RuleAction.Drop;
    public RuleAction NonIp { get; init; } = RuleAction.Pass;
    public IReadOnlyList<string> Interfaces { get; init; } = [];

    /// <summary>Where each name of <see cref="Interfaces"/> stands in the file.</summary>
    public IReadOnlyDictionary<string, SourcePos> InterfacePos { get; init; } = new Dictionary<string, SourcePos>();
    public IReadOnlyDictionary<string, PrefixSet> Sets { get; init; } = new Dictionary<string, PrefixSet>();
    public IReadOnlyList<Rule> Rules { get; init; } = [];

    /// <summary>The flow table's settings (`conntrack:`), the defaults when absent.</summary>
    public ConntrackSettings Conntrack { get; init; } = ConntrackSettings.Default;

    /// <summary>Whether some rule names `state` or `track`: only then does the data plane keep a flow table.</summary>
    public bool UsesConntrack => Rules.Any(r => r.State is not null || r.Track);

    /// <summary>The packet log's settings (`log:`), the defaults when absent.</summary>
    public LogSettings Log { get; init; } = LogSettings.Default;

    /// <summary>Whether anything is logged: a rule's `log`, or `log:` naming default, malformed or non_ip.</summary>
    public bool UsesLog => Rules.Any(r => r.LogEvery is not null)
        || Log.DefaultEvery is not null || Log.MalformedEvery is not null || Log.NonIpEvery is not null;

    /// <summary>Where each top-level key stands ("default", "rules", ...), for diagnostics after parsing.</summary>
    public IReadOnlyDictionary<string, SourcePos> KeyPos { get; init; } = new Dictionary<string, SourcePos>();

    public SourcePos PosOf(string key) => KeyPos.TryGetValue(key, out var p) ? p : new SourcePos(File, 1, 1);

    /// <summary>The live sets (`dynamic: true`) in name order.</summary>
    public IEnumerable<PrefixSet> LiveSets => Sets.Values.Where(s => s.Dynamic).OrderBy(s => s.Name, StringComparer.Ordinal);

    /// <summary>Whether some rule has a `limit`.</summary>
    public bool UsesLimits => Rules.Any(r => r.Limit is not null);

    /// <summary>Distinct prefixes across sets and rules' own lists (what the bound of the contract counts).</summary>
    public long PrefixCount =>
        Sets.Values.Sum(s => (long)s.Prefixes.Count)
        + Rules.Sum(r => (long)(r.Src?.Prefixes.Count ?? 0) + (r.Dst?.Prefixes.Count ?? 0));
}
