using System.Globalization;
using System.Text;
using Fw.Rules;

namespace Fw.Testing;

/// <summary>
/// Writes a <see cref="Ruleset"/> back as rules.yaml text. Used by the generator and to print a failing
/// (or shrunk) ruleset so it can be replayed. With a <c>style</c> random source, each value takes one of
/// its equivalent spellings (a one-element list or a scalar, "tcp" or 6, a /32 or a bare address, a rule
/// name written or left to its default) so the parser sees every form.
/// </summary>
public static class RulesetYaml
{
    public static string Write(Ruleset rs, System.Random? style = null)
    {
        var w = new Writer(style);
        w.Line($"default: {Action(rs.Default)}");
        if (rs.Malformed != RuleAction.Drop || w.Coin(0.5))
            w.Line($"malformed: {Action(rs.Malformed)}");
        if (rs.NonIp != RuleAction.Pass || w.Coin(0.5))
            w.Line($"non_ip: {Action(rs.NonIp)}");
        if (rs.Interfaces.Count > 0)
            w.Line($"interfaces: [{string.Join(", ", rs.Interfaces.Select(Quote))}]");

        if (rs.Sets.Count > 0)
        {
            w.Line("sets:");
            foreach (var set in rs.Sets.Values)
                w.Line(set.Dynamic
                    ? $"  {Quote(set.Name)}: {LiveSet(set, w)}"
                    : set.File is not null
                    ? $"  {Quote(set.Name)}: {{ file: {Quote(set.File)} }}"
                    : $"  {Quote(set.Name)}: [{string.Join(", ", set.Prefixes.Select(w.Prefix))}]");
        }

        w.Line("rules:");
        foreach (var rule in rs.Rules)
        {
            var keys = new List<string>();
            bool defaultName = rule.Name == $"rule-{rule.Index + 1}";
            if (!defaultName || w.Coin(0.1))
                keys.Add($"name: {Quote(rule.Name)}");
            if (rule.Src is not null)
                keys.Add($"src: {w.List(Addresses(rule.Src, w))}");
            if (rule.Dst is not null)
                keys.Add($"dst: {w.List(Addresses(rule.Dst, w))}");
            if (rule.Proto is not null)
            {
                // Names where a transport field follows, so "only with proto tcp" reads as written.
                bool names = rule.Sport is not null || rule.Dport is not null || rule.TcpFlags is not null
                    || rule.IcmpType is not null || !w.Styled || w.Coin(0.5);
                keys.Add($"proto: {w.List(rule.Proto.Select(p => names ? ProtoName(p) : Num(p)).ToList())}");
            }
            if (rule.Sport is not null)
                keys.Add($"sport: {w.List(rule.Sport.Select(Port).ToList())}");
            if (rule.Dport is not null)
                keys.Add($"dport: {w.List(rule.Dport.Select(Port).ToList())}");
            if (rule.TcpFlags is TcpFlagsMatch flags)
                keys.Add($"tcp_flags: \"{flags}\"");
            if (rule.IcmpType is not null)
                keys.Add($"icmp_type: {w.List(rule.IcmpType.Select(t => Num(t)).ToList())}");
            if (rule.Limit is RuleLimit limit)
                keys.Add($"limit: {Limit(limit, w)}");
            if (rule.AddTo is PrefixSet addTo)
                keys.Add($"add_to: {Quote("@" + addTo.Name)}");
            keys.Add($"action: {Action(rule.Action)}");
            if (rule.To is not null)
                keys.Add($"to: {Quote(rule.To)}");

            w.Line($"  - {keys[0]}");
            foreach (var k in keys.Skip(1))
                w.Line($"    {k}");
        }
        return w.ToString();
    }

    /// <summary>A live set: `{ dynamic: true, timeout: 600, max: 65536 }`, timeout only when it has one, max sometimes left to its default.</summary>
    static string LiveSet(PrefixSet set, Writer w)
    {
        var keys = new List<string> { "dynamic: true" };
        if (set.Timeout is uint timeout)
            keys.Add($"timeout: {Num((int)timeout)}");
        if (set.Max != PrefixSet.DefaultMax || w.Coin(0.5))
            keys.Add($"max: {Num(set.Max)}");
        return $"{{ {string.Join(", ", keys)} }}";
    }

    /// <summary>`{ rate: 50/s, burst: 100, per: src }`: burst and per: src sometimes left to their defaults.</summary>
    static string Limit(RuleLimit limit, Writer w)
    {
        var keys = new List<string> { $"rate: {Num((int)limit.Rate)}/{(limit.PeriodSeconds == 1 ? "s" : "m")}" };
        if (limit.Burst != RuleLimit.DefaultBurst(limit.Rate, limit.PeriodSeconds) || w.Coin(0.5))
            keys.Add($"burst: {Num((int)limit.Burst)}");
        if (limit.PerRule)
            keys.Add("per: rule");
        else if ((limit.Len4, limit.Len6) != (32, 128))
            keys.Add($"per: src/{Num(PerSourceLength(limit))}");
        else if (w.Coin(0.5))
            keys.Add(w.Coin(0.5) ? "per: src" : "per: src/128");
        return $"{{ {string.Join(", ", keys)} }}";
    }

    /// <summary>The N of `per: src/N` (<see cref="RuleLimit.PerSource"/> backwards).</summary>
    static int PerSourceLength(RuleLimit limit) => limit.Len4 < 32 || limit.Len6 == 64 ? limit.Len4 : limit.Len6;

    static List<string> Addresses(AddressMatch m, Writer w)
    {
        var items = m.Prefixes.Select(w.Prefix).Concat(m.Sets.Select(s => Quote("@" + s.Name))).ToList();
        w.Shuffle(items);
        return items;
    }

    static string Action(RuleAction a) => a switch
    {
        RuleAction.Pass => "pass",
        RuleAction.Drop => "drop",
        RuleAction.Redirect => "redirect",
        _ => throw new ArgumentOutOfRangeException(nameof(a)),
    };

    static string ProtoName(byte p) => p switch
    {
        Ruleset.ProtoTcp => "tcp",
        Ruleset.ProtoUdp => "udp",
        Ruleset.ProtoIcmp => "icmp",
        Ruleset.ProtoIcmpV6 => "icmpv6",
        _ => Num(p),
    };

    static string Port(PortRange r) => r.Low == r.High ? Num(r.Low) : $"{r.Low}-{r.High}";

    static string Num(int n) => n.ToString(CultureInfo.InvariantCulture);

    /// <summary>Plain when the text is a simple word, else double-quoted.</summary>
    static string Quote(string s) =>
        s.Length > 0 && s.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.' or '/') && !char.IsDigit(s[0])
            ? s
            : "\"" + s.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";

    sealed class Writer(System.Random? style)
    {
        readonly StringBuilder _text = new();

        public void Line(string s) => _text.Append(s).Append('\n');

        public override string ToString() => _text.ToString();

        public bool Styled => style is not null;

        public bool Coin(double p) => style is not null && style.NextDouble() < p;

        public void Shuffle(List<string> items)
        {
            if (style is null)
                return;
            for (int i = items.Count - 1; i > 0; i--)
            {
                int j = style.Next(i + 1);
                (items[i], items[j]) = (items[j], items[i]);
            }
        }

        /// <summary>A one-element list is written as a scalar half of the time.</summary>
        public string List(IReadOnlyList<string> items) =>
            items.Count == 1 && (style is null || Coin(0.5)) ? items[0] : $"[{string.Join(", ", items)}]";

        /// <summary>IPv6 always quoted; a host prefix sometimes as a bare address.</summary>
        public string Prefix(IpPrefix p)
        {
            string text = p.Length == p.MaxLength && Coin(0.5) ? p.ToIPAddress().ToString() : p.ToString();
            return p.Family == IpFamily.V6 ? $"\"{text}\"" : text;
        }
    }
}
