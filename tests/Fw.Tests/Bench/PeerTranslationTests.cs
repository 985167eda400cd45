using System.Net;
using Fw.Bench;
using Fw.Compiler;
using Fw.Kernel;
using Fw.Bpf;
using Fw.Control;
using Fw.Rules;

namespace Fw.Tests.Bench;

/// <summary>
/// The benchmark's translations for its peers: nftables accepts both forms (<c>nft -c -f</c>, checked by the
/// kernel in a namespace of the bench's own), and the maps the benchmark writes for xdp-filter hold exactly what
/// xdp-filter's own commands write.
/// </summary>
public sealed class PeerTranslationTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fw-peer-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Fw.Rules.Ruleset Load(string path)
    {
        var check = RulesCheck.Check(path);
        Assert.True(check.Ok, string.Join("\n", check.Diagnostics));
        return check.Ruleset!;
    }

    private static string RepoFile(string rel)
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, rel)))
                return Path.Combine(d.FullName, rel);
        }
        throw new FileNotFoundException(rel);
    }

    [Fact]
    public void NftAcceptsBothFormsOfTheExampleAndASyntheticRuleset()
    {
        using var net = new BenchNet(1);
        // The example is stateful, which nft's netdev hook cannot be: refused whole, and translated without its state rules.
        var full = Load(RepoFile("rules/rules.yaml"));
        Assert.Throws<NotSupportedException>(() => NftRuleset.Translate(full, net.SutIf));
        var stateless = new Ruleset
        {
            File = full.File, Default = full.Default, Malformed = full.Malformed, NonIp = full.NonIp, Sets = full.Sets,
            Rules = full.Rules.Where(r => r.State is null && !r.Track).ToList(),
        };
        var example = NftRuleset.Translate(stateless, net.SutIf);
        var synthetic = NftRuleset.Translate(Load(Synthetic.Write(_dir, 100, 1000)), net.SutIf);
        foreach (var t in new[] { example, synthetic })
        {
            foreach (var form in new[] { NftForm.Plain, NftForm.Best })
            {
                var r = net.Ns.Exec(["nft", "-c", "-f", "-"], t.Script(form));
                Assert.True(r.Ok, $"{form}: {r.Stderr}\n{t.Script(form)[..Math.Min(4000, t.Script(form).Length)]}");
            }
        }
        // The example without `replies`: the non-IP check, 11 rules as 16 nft rules (the blocklist rule once per set
        // and family, ssh-from-admin and ping once per family), the default.
        Assert.Equal(1 + 16 + 1, example.RuleCount(NftForm.Plain));
        Assert.Contains(example.Rules(NftForm.Plain), r => r == "meta l4proto 17 th sport { 19, 123, 389, 1900, 11211 } counter drop");
        Assert.Contains(example.Rules(NftForm.Plain), r => r == "ip6 daddr 2001:db8:2::/64 meta l4proto 6 th dport 23 counter drop");
        Assert.Contains(example.Rules(NftForm.Plain), r => r == "meta l4proto 6 tcp flags & (fin | psh | urg) == fin | psh | urg counter drop");
        Assert.Contains(example.Rules(NftForm.Plain), r => r == "meta protocol ip icmp type { 13, 14 } counter drop");
        // The synthetic rules of one family merge into one concatenated set: 74 IPv4 (r1..r99 but the IPv6 ones), 25 IPv6.
        Assert.Contains("74 elements", synthetic.BestSummary);
        Assert.Contains("25 elements", synthetic.BestSummary);
        Assert.Equal(1 + 99 + 2 + 1, synthetic.RuleCount(NftForm.Plain));
    }

    [Fact]
    public void BestFormKeepsTheFirstMatchWhenActionsOrElementsOverlap()
    {
        string path = Path.Combine(_dir, "overlap.yaml");
        File.WriteAllText(path, """
            default: pass
            rules:
              - { name: a, src: 198.18.0.0/24, proto: tcp, dport: 22, action: drop }
              - { name: b, src: 198.18.0.5, proto: tcp, dport: 22, action: pass }
              - { name: c, src: 198.18.1.0/24, proto: tcp, dport: 22, action: pass }
              - { name: d, src: 198.18.2.0/24, proto: tcp, dport: 22, action: pass }
              - { name: e, src: 198.18.2.7, proto: tcp, dport: 22, action: pass }
            """);
        var t = NftRuleset.Translate(Load(path), "x");
        // a alone (b's action differs); b, c, d merge; e overlaps d and starts a group of its own.
        var v4 = t.TableScript()[t.TableScript().IndexOf("chain fw_best4", StringComparison.Ordinal)..];
        v4 = v4[..v4.IndexOf('}')];
        Assert.Equal(4, v4.Split('\n').Count(l => l.Contains("counter")));
        Assert.Contains("ip saddr 198.18.0.0/24 meta l4proto 6 th dport 22 counter drop", v4);
        Assert.Contains("ip saddr . meta l4proto . th dport @g4_0 counter accept", v4);
        Assert.Contains("ip saddr 198.18.2.7 meta l4proto 6 th dport 22 counter accept", v4);
    }

    [Fact]
    public void XdpFilterMapsMatchWhatItsOwnCommandsWrite()
    {
        using var net = new BenchNet(1);
        var cfg = new XdpFilterConfig
        {
            Policy = "deny",
            Ports = [new PortFilter(1000, false, true, false), new PortFilter(1001, true, false, true), new PortFilter(1002, false, true, true)],
            Addresses = [new AddressFilter(IPAddress.Parse("198.18.0.1"), true), new AddressFilter(IPAddress.Parse("2001:db8::7"), false)],
            Skipped = [],
        };
        Assert.Equal("tcp,udp,ipv4,ipv6", cfg.Features);

        var byCommands = LoadAndRead(net, cfg, () =>
        {
            foreach (var c in cfg.Commands(net.SutIf).Skip(1))
                net.Ns.Exec(c).Check();
        });
        var byMaps = LoadAndRead(net, cfg, () => XdpFilterMaps.Write(cfg));
        Assert.Equal(byCommands.Keys.Order(), byMaps.Keys.Order());
        foreach (var (k, v) in byCommands)
            Assert.True(v.SequenceEqual(byMaps[k]), $"{k}: commands {string.Join(',', v)}, maps {string.Join(',', byMaps[k])}");
        Assert.Equal([6UL, 6UL], byCommands["port 1000"]);   // dst | tcp, on every CPU
    }

    /// <summary>Loads xdp-filter, fills its filters one way, reads back every entry the config names, unloads.</summary>
    private static Dictionary<string, ulong[]> LoadAndRead(BenchNet net, XdpFilterConfig cfg, Action fill)
    {
        XdpFilterMaps.ClaimPins();
        try
        {
            net.Ns.Exec(cfg.Commands(net.SutIf).First()).Check();
            try
            {
                fill();
                var got = new Dictionary<string, ulong[]>();
                using (var ports = BpfMap.OpenPinned($"{XdpFilterMaps.PinDir}/filter_ports"))
                {
                    foreach (var p in cfg.Ports)
                        got[$"port {p.Port}"] = ports.LookupPerCpu<uint, ulong>((uint)(p.Port >> 8 | (p.Port & 0xff) << 8));
                }
                using (var v4 = BpfMap.OpenPinned($"{XdpFilterMaps.PinDir}/filter_ipv4"))
                    got["198.18.0.1"] = v4.LookupPerCpu<uint, ulong>(BitConverter.ToUInt32(IPAddress.Parse("198.18.0.1").GetAddressBytes()));
                using (var v6 = BpfMap.OpenPinned($"{XdpFilterMaps.PinDir}/filter_ipv6"))
                    got["2001:db8::7"] = v6.LookupPerCpu<UInt128, ulong>(System.Runtime.InteropServices.MemoryMarshal.Read<UInt128>(IPAddress.Parse("2001:db8::7").GetAddressBytes()));
                return got;
            }
            finally
            {
                net.Ns.Exec("xdp-filter", "unload", net.SutIf).Check();
            }
        }
        finally
        {
            XdpFilterMaps.ReleasePins();
        }
    }
}
