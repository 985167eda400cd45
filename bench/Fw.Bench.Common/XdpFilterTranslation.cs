using System.Net;
using Fw.Rules;

namespace Fw.Bench;

/// <summary>
/// What xdp-filter (xdp-tools) can express of a ruleset. xdp-filter has one policy and a list of filters,
/// each a port (per protocol, source or destination), a host address (source or destination) or a MAC; a
/// packet that matches any filter gets the opposite of the policy. It cannot AND fields, has no prefixes
/// shorter than a host, and one action for all filters. So the translation gives it every port and host
/// address the rules name, as separate filters, with the policy of the ruleset's default: a packet that
/// matches no fw rule and none of those values gets the same verdict from both. Packets that do match a
/// value would not (a filter inverts the policy), which is why the benchmark measures xdp-filter with the
/// no-match mix only. What it cannot express is listed in <see cref="Skipped"/>.
/// </summary>
public sealed class XdpFilterConfig
{
    /// <summary>A port range wider than this is not expanded into filters.</summary>
    public const int MaxPortsPerRange = 1024;

    /// <summary>xdp-filter's address maps hold this many entries per family.</summary>
    public const int MaxAddresses = 10_000;

    public required string Policy { get; init; }   // "allow" or "deny", as `xdp-filter load --policy`
    public required IReadOnlyList<PortFilter> Ports { get; init; }
    public required IReadOnlyList<AddressFilter> Addresses { get; init; }
    public required IReadOnlyList<string> Skipped { get; init; }

    /// <summary>xdp-filter's feature list for `load --features` (what the filters need).</summary>
    public string Features
    {
        get
        {
            var f = new List<string>();
            if (Ports.Any(p => p.Tcp))
                f.Add("tcp");
            if (Ports.Any(p => p.Udp))
                f.Add("udp");
            if (Addresses.Any(a => a.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork))
                f.Add("ipv4");
            if (Addresses.Any(a => a.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6))
                f.Add("ipv6");
            return f.Count == 0 ? "all" : string.Join(",", f);
        }
    }

    /// <summary>The xdp-filter commands that set this up on <paramref name="iface"/> (one process each).</summary>
    public IEnumerable<string[]> Commands(string iface)
    {
        yield return ["xdp-filter", "load", "--mode", "native", "--policy", Policy, "--features", Features, iface];
        foreach (var p in Ports)
            yield return ["xdp-filter", "port", $"{p.Port}", "--mode", p.Source ? "src" : "dst", "--proto", p.Tcp && p.Udp ? "tcp,udp" : p.Tcp ? "tcp" : "udp"];
        foreach (var a in Addresses)
            yield return ["xdp-filter", "ip", a.Address.ToString(), "--mode", a.Source ? "src" : "dst"];
    }

    public string Describe() =>
        $"policy {Policy} ({(Policy == "deny" ? "drop what matches no filter" : "pass what matches no filter")}), " +
        $"{Ports.Count:N0} port filters, {Addresses.Count:N0} address filters" +
        (Skipped.Count > 0 ? $"; not expressible: {string.Join("; ", Skipped)}" : "");

    public static XdpFilterConfig Translate(Ruleset rs)
    {
        var ports = new Dictionary<(ushort, bool), (bool Tcp, bool Udp)>();
        var addrs = new List<AddressFilter>();
        var seenAddr = new HashSet<(IPAddress, bool)>();
        var skipped = new List<string>();
        int shortPrefixes = 0, setsSkipped = 0, flagsOrIcmp = 0, wideRanges = 0, full = 0;
        foreach (var r in rs.Rules)
        {
            if (r.TcpFlags is not null || r.IcmpType is not null)
                flagsOrIcmp++;
            bool tcp = r.Proto?.Contains(Ruleset.ProtoTcp) ?? true, udp = r.Proto?.Contains(Ruleset.ProtoUdp) ?? true;
            foreach (var (list, source) in new[] { (r.Sport, true), (r.Dport, false) })
            {
                if (list is null)
                    continue;
                foreach (var range in list)
                {
                    if (range.High - range.Low + 1 > MaxPortsPerRange)
                    {
                        wideRanges++;
                        continue;
                    }
                    for (int p = range.Low; p <= range.High; p++)
                    {
                        var key = ((ushort)p, source);
                        var had = ports.GetValueOrDefault(key);
                        ports[key] = (had.Tcp || tcp, had.Udp || udp);
                    }
                }
            }
            foreach (var (m, source) in new[] { (r.Src, true), (r.Dst, false) })
            {
                if (m is null)
                    continue;
                setsSkipped += m.Sets.Count;
                foreach (var p in m.Prefixes)
                {
                    if (p.Length != p.MaxLength)
                    {
                        shortPrefixes++;
                        continue;
                    }
                    var a = p.ToIPAddress();
                    if (addrs.Count(x => x.Address.AddressFamily == a.AddressFamily) >= MaxAddresses)
                    {
                        full++;
                        continue;
                    }
                    if (seenAddr.Add((a, source)))
                        addrs.Add(new AddressFilter(a, source));
                }
            }
        }
        if (shortPrefixes > 0)
            skipped.Add($"{shortPrefixes:N0} prefixes shorter than a host");
        if (setsSkipped > 0)
            skipped.Add($"{setsSkipped} set reference(s) ({string.Join(", ", rs.Sets.Values.Select(s => $"@{s.Name}: {s.Prefixes.Count:N0} prefixes"))})");
        if (wideRanges > 0)
            skipped.Add($"{wideRanges} port range(s) wider than {MaxPortsPerRange}");
        if (flagsOrIcmp > 0)
            skipped.Add($"tcp_flags/icmp_type of {flagsOrIcmp} rule(s)");
        if (full > 0)
            skipped.Add($"{full} addresses beyond its {MaxAddresses:N0}-entry maps");
        skipped.Add("the AND of a rule's fields (filters are ORed)");
        if (rs.Rules.Select(r => r.Action).Distinct().Count() > 1 || rs.Rules.Any(r => r.Action == RuleAction.Redirect))
            skipped.Add("per-rule actions (one policy for all)");
        return new XdpFilterConfig
        {
            Policy = rs.Default == RuleAction.Drop ? "deny" : "allow",
            Ports = ports.OrderBy(kv => kv.Key.Item2).ThenBy(kv => kv.Key.Item1)
                .Select(kv => new PortFilter(kv.Key.Item1, kv.Key.Item2, kv.Value.Tcp, kv.Value.Udp)).ToList(),
            Addresses = addrs,
            Skipped = skipped,
        };
    }
}

public sealed record PortFilter(ushort Port, bool Source, bool Tcp, bool Udp);

public sealed record AddressFilter(IPAddress Address, bool Source);
