using System.CommandLine;
using Fw.Bpf;
using Fw.Kernel;
using Fw.Packets;

namespace Fw.Cli;

/// <summary>
/// fwctl test IFACE (--packet SPEC... | --pcap FILE) [--json]: runs packets through a copy of the
/// interface's live generation with BPF_PROG_TEST_RUN and prints each verdict and its cause. The copy
/// (<see cref="Classifier.LoadTraceCopy"/>) reads the live maps but counts in private counters, so the
/// interface's counters do not move.
/// </summary>
internal static class TestCommand
{
    private const string Grammar = """
        SPEC (one quoted argument; keywords in any case):
          [vlan ID]... [frag [OFFSET]] [ext hop|route|dest|ah[,...]] BODY [OPTION]...
          BODY:   tcp SRC:PORT -> DST:PORT [FLAGS]       FLAGS fin,syn,rst,psh,ack,urg,ece,cwr or none; default syn
                  udp SRC:PORT -> DST:PORT               IPv6 with a port: [2001:db8::1]:53
                  icmp SRC -> DST [type N] [code N]      default type 8
                  icmpv6 SRC -> DST [type N] [code N]    default type 128
                  proto P SRC -> DST                     any IP protocol, no L4 header
                  arp SRC -> DST                         ARP request (non-IP)
                  ether TYPE                             any EtherType, e.g. 0x88cc
          OPTION: len N (payload bytes), trunc N (cut the frame to N bytes)
          vlan: the first is outermost (two or more: 802.1ad outside); frag: OFFSET in bytes, a multiple
          of 8, default 1480 (non-first); frag 0 is a first fragment.
        Example: fwctl test eth0 --packet 'tcp 198.51.100.7:40000 -> 192.0.2.10:22 syn'
        """;

    /// <summary>The bounds of a --pcap file: what one run of fwctl test reads at most.</summary>
    private const long MaxPcapBytes = 64L << 20;
    private const int MaxPackets = 100_000;

    private static readonly Argument<string> IfaceArgument = InterfaceArgument.Required("The interface fw is attached to");

    private static readonly Option<string[]> PacketOption = new("--packet", "-p")
    {
        Description = "A packet to run, as SPEC (see above); repeat for several",
        HelpName = "SPEC",
    };

    private static readonly Option<string?> PcapOption = new("--pcap")
    {
        Description = "Run every frame of a pcap or pcapng file (Ethernet link type)",
        HelpName = "FILE",
    };

    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var cmd = new Command("test",
            "Run packets through the program attached to IFACE (BPF_PROG_TEST_RUN) and print each verdict\n" +
            "and the rule that decided it; the live counters do not change.\n" +
            "Exit codes: 0 ok, 1 failure (not root, not attached, unreadable pcap), 2 usage error or bad SPEC.\n\n" + Grammar)
        {
            IfaceArgument,
            PacketOption,
            PcapOption,
            FwctlApp.JsonOption,
        };
        cmd.SetAction(parse => Run(parse.GetValue(IfaceArgument)!, parse.GetValue(PacketOption) ?? [],
            parse.GetValue(PcapOption), parse.GetValue(FwctlApp.JsonOption), stdout, stderr));
        return cmd;
    }

    /// <summary>One frame to run: its bytes and how to name it.</summary>
    private sealed record Input(byte[] Bytes, string Text, bool IsSpec, string? Note);

    /// <summary>What happened to one frame. <see cref="Verdict"/> of a frame not run is the one the ruleset gives malformed frames.</summary>
    private sealed record Outcome(int Index, Input Input, XdpAction Verdict, FwReason Reason, int? Rule, string? RuleName, string? Note)
    {
        /// <summary>The frame's connection state (new, established, related) when the ruleset names state or track, else null.</summary>
        public string? State { get; init; }

        /// <summary>Established: the frame's flow; related: the flow its ICMP error quotes.</summary>
        public ConntrackFlow? Flow { get; init; }

        /// <summary>The live sets the frame's addresses were in, with the entries that put them there.</summary>
        public IReadOnlyList<LiveSetHit> Sets { get; init; } = [];

        /// <summary>The deciding rule's limit decided (a drop rule: over its rate; a pass quota: within it).</summary>
        public bool LimitDecided { get; init; }

        /// <summary>Rules with a limit that matched every field but not their limit, passed over before the verdict.</summary>
        public int LimitsPassed { get; init; }
    }

    public static int Run(string iface, IReadOnlyList<string> specs, string? pcap, bool json, TextWriter stdout, TextWriter stderr)
    {
        if ((specs.Count > 0) == (pcap is not null))
        {
            return Output.Fail(json, stdout, stderr, FwctlApp.ExitUsage,
                specs.Count > 0 ? "give --packet or --pcap, not both" : "give the packets: --packet SPEC or --pcap FILE",
                extra: ["Try 'fwctl test --help'."]);
        }

        // The packets first: a bad spec or an unreadable file is reported without touching the kernel.
        var inputs = new List<Input>();
        for (int i = 0; i < specs.Count; i++)
        {
            string which = specs.Count == 1 ? "--packet" : $"--packet #{i + 1}";
            if (!PacketSpec.TryParse(specs[i], out var spec, out var error))
            {
                string line = specs[i].ReplaceLineEndings(" ");
                return Output.Fail(json, stdout, stderr, FwctlApp.ExitUsage, $"{which}: {error!.Message}",
                    extra: ["    " + line, "    " + new string(' ', Math.Min(error.Column - 1, line.Length)) + "^" + new string('~', error.Length - 1)],
                    fields: new() { ["spec"] = specs[i], ["column"] = error.Column });
            }
            inputs.Add(new Input(spec!.Build(), spec.ToString(), true, null));
        }
        if (pcap is not null)
        {
            PcapSource? source = null;
            try
            {
                // A regular file only (a FIFO or a device would block or never end), and bounded: its size when
                // opened, and the bytes read, should it grow meanwhile. pcap or pcapng, read by libpcap.
                using (var file = RegularFile.OpenRead(pcap))
                {
                    if (file.Length > MaxPcapBytes)
                        return Output.Fail(json, stdout, stderr, FwctlApp.ExitFailure, $"{pcap}: {file.Length:N0} bytes; fwctl test reads at most {MaxPcapBytes:N0}");
                    source = PcapSource.Open(file, pcap);   // libpcap reads its own descriptor of the file checked here
                }
                long read = 0;
                while (source.Read() is { } p)
                {
                    read += p.Data.Length;
                    if (inputs.Count == MaxPackets)
                        return Output.Fail(json, stdout, stderr, FwctlApp.ExitFailure, $"{pcap}: more than {MaxPackets:N0} frames; fwctl test runs at most that many");
                    if (read > MaxPcapBytes)
                        return Output.Fail(json, stdout, stderr, FwctlApp.ExitFailure, $"{pcap}: more than {MaxPcapBytes:N0} bytes of frames (the file grew while read); fwctl test reads at most {MaxPcapBytes:N0}");
                    inputs.Add(new Input(p.Data, PacketSpec.Describe(p.Data), false,
                        p.Snapped ? $"snapped: {p.Data.Length} of {p.OriginalLength} bytes captured" : null));
                }
            }
            catch (Exception e) when (e is PcapFormatException or IOException or UnauthorizedAccessException or BpfException)
            {
                string msg = e switch
                {
                    BpfException { Errno: 2 } or FileNotFoundException or DirectoryNotFoundException => $"{pcap}: no such file",
                    BpfException { Errno: 13 } or UnauthorizedAccessException => $"{pcap}: permission denied",
                    PcapFormatException or NotRegularFileException => e.Message,
                    _ => $"{pcap}: {e.Message}",
                };
                return Output.Fail(json, stdout, stderr, FwctlApp.ExitFailure, msg);
            }
            finally
            {
                source?.Dispose();
            }
        }

        ulong generation;
        var outcomes = new List<Outcome>();
        try
        {
            using var copy = Firewall.OpenTrace(iface);
            var state = copy.State;
            generation = state.Meta.Generation;
            var malformed = state.Meta.MalformedAction == 0 ? XdpAction.Pass : XdpAction.Drop;
            uint seq = 0;
            for (int i = 0; i < inputs.Count; i++)
                outcomes.Add(RunOne(copy, state, malformed, i + 1, inputs[i], ref seq));
        }
        catch (Exception e) when (e is BpfException or FirewallException)
        {
            return Output.Fail(json, stdout, stderr, FwctlApp.ExitFailure, Output.WithHint(e));
        }

        if (json)
        {
            Output.WriteJson(stdout, new Dictionary<string, object?>
            {
                ["interface"] = iface,
                ["generation"] = generation,
                ["packets"] = outcomes.Select(ToJson).ToList(),
            });
        }
        else if (outcomes.Count == 0)
        {
            stderr.WriteLine($"fwctl: {pcap}: no packets");
        }
        else
        {
            WriteTable(stdout, outcomes);
        }
        return FwctlApp.ExitOk;
    }

    private static Outcome RunOne(TraceCopy copy, InterfaceState state, XdpAction malformed, int index, Input input, ref uint seq)
    {
        if (input.Bytes.Length < 14)
        {
            // The kernel refuses test runs shorter than an Ethernet header; the program would call it malformed.
            return new Outcome(index, input, malformed, FwReason.Malformed, null, null,
                Join(input.Note, "too short for BPF_PROG_TEST_RUN, not run"));
        }
        var (verdict, trace) = copy.Run(input.Bytes);
        if (trace.Seq == seq)
            throw new BpfException($"packet #{index}: the program recorded no verdict (trace unchanged)", 0);
        seq = trace.Seq;
        var reason = (FwReason)trace.Reason;
        string? connState = !copy.UsesConntrack ? null : trace.CtState switch { 1 => "established", 2 => "related", _ => "new" };
        var flow = connState is "established" or "related" ? copy.Flow(trace.CtKey) : null;
        var sets = new List<LiveSetHit>();
        if ((trace.SrcSets | trace.DstSets) != 0)
        {
            var parsed = FrameParser.Parse(input.Bytes);
            var (src, dst) = parsed.Ipv4 is { } v4 ? (v4.Src, v4.Dst) : parsed.Ipv6 is { } v6 ? (v6.Src, v6.Dst) : (null, null);
            sets = copy.SetHits(trace, src is null ? null : Fw.Rules.IpPrefix.FromAddress(src), dst is null ? null : Fw.Rules.IpPrefix.FromAddress(dst));
        }
        var outcome = new Outcome(index, input, verdict, reason, null, null, input.Note)
        {
            State = connState, Flow = flow, Sets = sets, LimitDecided = trace.LimitRule != 0, LimitsPassed = (int)trace.LimitWithin,
        };
        if (reason == FwReason.Rule && trace.Rule < state.Rules.Count)
        {
            var rule = state.Rules[(int)trace.Rule];
            return outcome with { Rule = rule.Index, RuleName = rule.Name };
        }
        return outcome;
    }

    private static string? Join(string? a, string b) => a is null ? b : $"{a}; {b}";

    private static void WriteTable(TextWriter w, IReadOnlyList<Outcome> outcomes)
    {
        var rows = outcomes.Select(o => (
            Index: $"#{o.Index}",
            Packet: o.Input.Text,
            Verdict: Format.Verdict(o.Verdict).ToUpperInvariant(),
            Cause: o.Reason switch
            {
                FwReason.Rule => $"rule {o.RuleName} (#{o.Rule + 1})",
                FwReason.Default => "default",
                FwReason.Malformed => "malformed",
                FwReason.NonIp => "non-IP",
                FwReason.NoRuleset => "no ruleset",
                _ => $"reason {(uint)o.Reason}",
            } + StateText(o) + LiveText(o) + (o.Note is null ? "" : $" ({o.Note})"))).ToList();
        int wi = rows.Max(r => r.Index.Length), wp = rows.Max(r => r.Packet.Length), wv = rows.Max(r => r.Verdict.Length);
        foreach (var r in rows)
            w.WriteLine($"{r.Index.PadRight(wi)}  {r.Packet.PadRight(wp)}  {r.Verdict.PadRight(wv)}  {r.Cause}");
    }

    // "; state established: tcp 198.18.0.1:40000 -> 198.18.1.2:80 (egress, tcp_established)"
    private static string StateText(Outcome o) => o.State switch
    {
        null => "",
        "new" => "; state new",
        _ when o.Flow is { } f => $"; state {o.State}: {f.Tuple} ({f.OriginName}, {f.PhaseName})",
        _ => $"; state {o.State}",
    };

    // "; src in @banned 198.18.0.5/32 (expires in 9m58s); over its limit; 1 limited rule passed over (...)"
    private static string LiveText(Outcome o)
    {
        string text = string.Concat(o.Sets.Select(h => $"; {h.Field} in @{h.Set}" + (h.Entry is { } e
            ? $" {e.Prefix} ({(h.SecondsLeft is { } left ? "expires in " + Format.Seconds(left) : "no expiry")})" : "")));
        if (o.LimitDecided)
            text += o.Verdict == XdpAction.Drop ? "; over its limit" : "; within its quota";
        if (o.LimitsPassed > 0)
            text += $"; {o.LimitsPassed} limited rule{(o.LimitsPassed == 1 ? "" : "s")} passed over (within a drop limit or past a quota)";
        return text;
    }

    private static Dictionary<string, object?> ToJson(Outcome o) => new()
    {
        ["index"] = o.Index,
        [o.Input.IsSpec ? "spec" : "summary"] = o.Input.Text,
        ["bytes"] = o.Input.Bytes.Length,
        ["verdict"] = Format.Verdict(o.Verdict),
        ["reason"] = Format.Reason(o.Reason),
        ["rule"] = o.RuleName,
        ["rule_index"] = o.Rule,
        ["note"] = o.Note,
        ["state"] = o.State,
        ["flow"] = o.Flow is { } f ? ConntrackCommand.ToJson(f) : null,
        ["sets"] = o.Sets.Select(h => new Dictionary<string, object?>
        {
            ["field"] = h.Field,
            ["set"] = h.Set,
            ["entry"] = h.Entry?.Prefix.ToString(),
            ["expires_in"] = h.SecondsLeft,
        }).ToList(),
        ["limit"] = o.LimitDecided,
        ["limits_passed"] = o.LimitsPassed,
    };
}
