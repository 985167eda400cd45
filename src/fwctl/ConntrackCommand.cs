using System.CommandLine;
using System.CommandLine.Parsing;
using System.Net;
using Fw.Bpf;
using Fw.Kernel;
using Fw.Rules;

namespace Fw.Cli;

/// <summary>
/// fwctl conntrack IFACE [--proto P] [--src PREFIX] [--dst PREFIX] [--limit N] [--json]: the flow table's flows and
/// counts, after removing its expired entries (what fwd does every few seconds; this way a table without fwd is
/// swept too). fwctl conntrack flush IFACE [same filters]: removes the flows the filters take (all without one).
/// </summary>
internal static class ConntrackCommand
{
    private static readonly Option<byte?> ProtoOption = new("--proto")
    {
        Description = "Only flows of this protocol: tcp, udp, icmp, icmpv6 or a number",
        CustomParser = r => Parse(r, ConntrackFilter.ParseProto),
    };

    private static readonly Option<IpPrefix?> SrcOption = new("--src")
    {
        Description = "Only flows whose original source (the end that started it) is in PREFIX",
        CustomParser = r => Parse(r, t => (IpPrefix?)ConntrackFilter.ParsePrefix(t)),
    };

    private static readonly Option<IpPrefix?> DstOption = new("--dst")
    {
        Description = "Only flows whose original destination is in PREFIX",
        CustomParser = r => Parse(r, t => (IpPrefix?)ConntrackFilter.ParsePrefix(t)),
    };

    private static readonly Option<int> LimitOption = new("--limit")
    {
        Description = "Show at most N flows (0: all); the counts always cover the whole table",
        DefaultValueFactory = _ => 10_000,
        CustomParser = r => Parse(r, t => int.TryParse(t, System.Globalization.NumberStyles.None, null, out int n)
            ? n : throw new FormatException($"'{t}' is not a count")),
    };

    private static T? Parse<T>(ArgumentResult r, Func<string, T> parse)
    {
        string text = r.Tokens.Count > 0 ? r.Tokens[0].Value : "";
        try
        {
            return parse(text);
        }
        catch (FormatException e)
        {
            r.AddError($"{((OptionResult)r.Parent!).Option.Name}: {e.Message}");
            return default;
        }
    }

    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var iface = InterfaceArgument.Required("The interface");
        var cmd = new Command("conntrack", "Show the flow table: each flow's protocol, original tuple, state, age and expiry; the table's size, fill and counters")
        {
            iface, ProtoOption, SrcOption, DstOption, LimitOption, FwctlApp.JsonOption,
        };
        cmd.SetAction(p => List(p.GetValue(iface)!, Filter(p), p.GetValue(LimitOption), p.GetValue(FwctlApp.JsonOption), stdout, stderr));

        var flushIface = InterfaceArgument.Required("The interface");
        var flush = new Command("flush", "Remove the flows the filters take (every flow without a filter): their next packets are new")
        {
            flushIface, ProtoOption, SrcOption, DstOption, FwctlApp.JsonOption,
        };
        flush.SetAction(p => Flush(p.GetValue(flushIface)!, Filter(p), p.GetValue(FwctlApp.JsonOption), stdout, stderr));
        cmd.Subcommands.Add(flush);
        return cmd;
    }

    private static ConntrackFilter Filter(ParseResult p) =>
        new(p.GetValue(ProtoOption), p.GetValue(SrcOption), p.GetValue(DstOption));

    public static int List(string iface, ConntrackFilter filter, int limit, bool json, TextWriter stdout, TextWriter stderr)
    {
        return Output.Run(json, stdout, stderr, () =>
        {
            Firewall.RequireRoot();
            using var table = Open(iface);
            int swept = table.Sweep();
            var shown = new List<ConntrackFlow>();
            int matched = 0;
            foreach (var f in table.Flows(filter))
            {
                matched++;
                if (limit == 0 || shown.Count < limit)
                    shown.Add(f);
            }
            shown.Sort(Compare);
            var counts = StatsSnapshot.Read(iface).Conntrack;
            if (json)
            {
                Output.WriteJson(stdout, new Dictionary<string, object?>
                {
                    ["interface"] = iface,
                    ["in_use"] = table.InUse,
                    ["max"] = table.Max,
                    ["entries"] = counts?.Entries ?? 0,
                    ["fill"] = Math.Round(counts?.Fill ?? 0, 6),
                    ["inserts"] = counts?.Inserts ?? 0,
                    ["insert_failures"] = counts?.InsertFailures ?? 0,
                    ["evictions"] = counts?.Evictions ?? 0,
                    ["removed"] = counts?.Removed ?? 0,
                    ["swept"] = swept,
                    ["matched"] = matched,
                    ["flows"] = shown.Select(ToJson).ToList(),
                });
                return FwctlApp.ExitOk;
            }
            var t = new Table(["PROTO", "SOURCE", "DESTINATION", "STATE", "ORIGIN", "AGE", "EXPIRES IN"]);
            foreach (var f in shown)
            {
                t.Add([f.ProtoName, f.Source, f.Destination, f.PhaseName, f.OriginName,
                    Format.Seconds(f.Age), f.Expired ? "expired" : Format.Seconds((ulong)f.ExpiresIn)]);
            }
            t.Write(stdout);
            if (matched > shown.Count)
                stdout.WriteLine($"({matched - shown.Count:N0} more flows not shown; --limit 0 shows all)");
            stdout.WriteLine();
            stdout.WriteLine($"{iface}: {counts?.Entries ?? 0:N0} of {table.Max:N0} entries ({counts?.Fill ?? 0:P1}){(table.InUse ? "" : ", unused by the live ruleset")}; "
                + $"{counts?.Inserts ?? 0:N0} inserted, {counts?.InsertFailures ?? 0:N0} refused, {counts?.Evictions ?? 0:N0} evicted, "
                + $"{counts?.Removed ?? 0:N0} removed ({swept:N0} expired just now)");
            return FwctlApp.ExitOk;
        });
    }

    public static int Flush(string iface, ConntrackFilter filter, bool json, TextWriter stdout, TextWriter stderr)
    {
        return Output.Run(json, stdout, stderr, () =>
        {
            Firewall.RequireRoot();
            using var table = Open(iface);
            int removed = table.Flush(filter);
            if (json)
                Output.WriteJson(stdout, new Dictionary<string, object?> { ["interface"] = iface, ["removed"] = removed });
            else
                stdout.WriteLine($"{iface}: {removed:N0} flows removed");
            return FwctlApp.ExitOk;
        });
    }

    private static ConntrackTable Open(string iface) =>
        ConntrackTable.Open(iface) ?? throw new FirewallException(iface, "conntrack", FirewallError.NotAttached,
            $"{iface}: no flow table (no ruleset of the interface has named state or track)");

    internal static Dictionary<string, object?> ToJson(ConntrackFlow f) => new()
    {
        ["proto"] = f.ProtoName,
        ["family"] = f.IsIPv6 ? "ipv6" : "ipv4",
        ["src"] = f.Src.ToString(),
        ["sport"] = f.Sport,
        ["dst"] = f.Dst.ToString(),
        ["dport"] = f.Dport,
        ["state"] = f.PhaseName,
        ["origin"] = f.OriginName,
        ["age"] = f.Age,
        ["expires_in"] = Math.Max(0, f.ExpiresIn),
    };

    private static int Compare(ConntrackFlow a, ConntrackFlow b)
    {
        int c = a.Proto.CompareTo(b.Proto);
        if (c == 0)
            c = a.IsIPv6.CompareTo(b.IsIPv6);
        if (c == 0)
            c = a.Src.GetAddressBytes().AsSpan().SequenceCompareTo(b.Src.GetAddressBytes());
        if (c == 0)
            c = a.Sport.CompareTo(b.Sport);
        if (c == 0)
            c = a.Dst.GetAddressBytes().AsSpan().SequenceCompareTo(b.Dst.GetAddressBytes());
        return c != 0 ? c : a.Dport.CompareTo(b.Dport);
    }
}
