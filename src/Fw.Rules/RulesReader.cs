using System.Text;
using YamlDotNet.Core.Events;

namespace Fw.Rules;

/// <summary>
/// Reads a rules file's YAML events into a <see cref="Ruleset"/>, checking the rules contract as it goes.
/// Every value is checked where it stands and reported there; a bad value does not stop the read, so one
/// run reports every error. Checks that need the whole file (set references, add_to, the live-set slots and
/// limits, names) run at the end.
/// </summary>
internal sealed partial class RulesReader
{
    private static readonly string[] TopKeys = ["default", "malformed", "non_ip", "interfaces", "conntrack", "log", "sets", "rules"];
    private static readonly string[] RuleKeys = ["name", "src", "dst", "proto", "sport", "dport", "tcp_flags", "icmp_type", "state", "action", "to", "track", "log", "limit", "add_to"];
    private static readonly string[] ConntrackKeys = ["max", "timeouts"];

    private const string AddressExpected = "an address, a prefix or \"@set\"";

    private readonly YamlCursor y;
    private readonly DiagnosticBag d;
    private readonly string file;
    private readonly string baseDirectory;
    private readonly PrefixBudget budget;
    private readonly SetFileReader setFiles;

    private RuleAction defaultVerdict = RuleAction.Pass;
    private RuleAction malformed = RuleAction.Drop;
    private RuleAction nonIp = RuleAction.Pass;
    private readonly Dictionary<string, SourcePos> topKeyPos = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SourcePos> interfacePos = new(StringComparer.Ordinal);
    private readonly List<string> interfaces = [];
    private ConntrackSettings conntrack = ConntrackSettings.Default;
    private LogSettings log = LogSettings.Default;
    private readonly Dictionary<string, PrefixSet> sets = new(StringComparer.Ordinal);
    private readonly HashSet<string> brokenSets = new(StringComparer.Ordinal);
    private readonly List<RawRule?> rules = [];

    public RulesReader(string text, string file, string baseDirectory, DiagnosticBag diagnostics)
    {
        d = diagnostics;
        this.file = file;
        this.baseDirectory = baseDirectory;
        budget = new PrefixBudget(diagnostics);
        setFiles = new SetFileReader(diagnostics, budget, baseDirectory);
        y = new YamlCursor(text, file, diagnostics);
    }

    /// <summary>Reads the document; YamlException escapes (a syntax error ends the read).</summary>
    public void Read()
    {
        try
        {
            ReadDocument();
        }
        catch (StopReading)
        {
        }
    }

    private void ReadDocument()
    {
        y.Next(); // past StreamStart
        if (y.Current is StreamEnd)
        {
            EmptyFile();
            return;
        }
        y.Next(); // past DocumentStart
        const string top = "a mapping of default, sets, rules, ... at the top of the rules file";
        if (y.Current is MappingStart)
        {
            ReadTop();
        }
        else if (y.Current is Scalar)
        {
            var s = y.ReadScalar();
            if (s.IsNull)
                EmptyFile();
            else
                d.Error(s.Pos, $"expected {top}, found {s.Describe()}", s.Length);
        }
        else
        {
            if (y.Kind != NodeKind.Alias)
                d.Error(y.Pos, $"expected {top}, found {y.Describe()}", y.Length);
            y.Skip();
        }
        y.Next(); // past DocumentEnd
        if (y.Current is DocumentStart)
            d.Error(y.Pos, "a rules file holds one YAML document; this is a second", 3);
    }

    /// <summary>The checks that need the whole file, then the ruleset if no error was found.</summary>
    public Ruleset? Finish()
    {
        ResolveSetReferences();
        ResolveAddTo();
        CheckLiveBounds();
        CheckNames();
        if (d.ErrorCount > 0)
            return null;
        return new Ruleset
        {
            File = file,
            Default = defaultVerdict,
            Malformed = malformed,
            NonIp = nonIp,
            Interfaces = interfaces,
            InterfacePos = interfacePos,
            Conntrack = conntrack,
            Log = log,
            Sets = sets,
            Rules = rules.Select(r => r!.Build()).ToList(),
            KeyPos = topKeyPos,
        };
    }

    private void EmptyFile() => d.Error(new SourcePos(file, 1, 1), "empty rules file", 0);

    // ---- the top level ----

    private void ReadTop()
    {
        ReadMapping("the rules file", TopKeys, (key, pos, length) =>
        {
            topKeyPos[key] = pos;
            switch (key)
            {
                case "default":
                    defaultVerdict = ReadVerdict(key, pos, length, defaultVerdict);
                    break;
                case "malformed":
                    malformed = ReadVerdict(key, pos, length, malformed);
                    break;
                case "non_ip":
                    nonIp = ReadVerdict(key, pos, length, nonIp);
                    break;
                case "interfaces":
                    ReadInterfaces(pos, length);
                    break;
                case "conntrack":
                    ReadConntrack();
                    break;
                case "log":
                    ReadLog();
                    break;
                case "sets":
                    ReadSets();
                    break;
                case "rules":
                    ReadRules();
                    break;
            }
        });
    }

    private RuleAction ReadVerdict(string key, SourcePos keyPos, int keyLength, RuleAction fallback)
    {
        if (!TryScalar(key, "pass or drop", keyPos, keyLength, out var s))
            return fallback;
        switch (s.Value.ToLowerInvariant())
        {
            case "pass":
                return RuleAction.Pass;
            case "drop":
                return RuleAction.Drop;
            case "redirect":
                d.Error(s.Pos, $"'{key}' cannot be redirect; expected pass or drop", s.Length);
                return fallback;
            default:
                d.Error(s.Pos, $"unknown verdict {s.Describe()} for '{key}'; expected pass or drop", s.Length);
                return fallback;
        }
    }

    private void ReadInterfaces(SourcePos keyPos, int keyLength)
    {
        if (IsNullValue())
            return;
        var seen = interfacePos;
        ReadScalars("interfaces", "interface names", keyPos, keyLength, allowEmpty: true, s =>
        {
            if (InterfaceName.Problem(s.Value) is string problem)
            {
                d.Error(s.Pos, problem, s.Length);
                return false;
            }
            if (seen.TryGetValue(s.Value, out var first))
            {
                d.Error(s.Pos, $"interface '{Clip(s.Value)}' is listed twice (first at {first})", s.Length);
                return false;
            }
            seen[s.Value] = s.Pos;
            interfaces.Add(s.Value);
            return true;
        });
    }

    // ---- sets ----

    private void ReadSets()
    {
        if (IsNullValue())
            return;
        if (y.Kind != NodeKind.Mapping)
        {
            ExpectedFound("'sets'", "a mapping of set names to prefix lists or {file: path}");
            return;
        }
        ReadMapping("sets", null, (name, pos, length) =>
        {
            string? problem = NameProblem(name, "set name");
            if (problem is not null)
                d.Error(pos, problem, length);
            var set = ReadSet(name, pos, length);
            if (set is null || problem is not null)
                brokenSets.Add(name);
            else
                sets[name] = set;
        });
    }

    private PrefixSet? ReadSet(string name, SourcePos pos, int length)
    {
        const string expected = "a list of addresses and prefixes, or {file: path}";
        switch (y.Kind)
        {
            case NodeKind.Sequence:
            {
                var prefixes = new List<IpPrefix>();
                bool ok = true;
                y.Enter();
                while (!y.AtEnd)
                {
                    if (y.Kind != NodeKind.Scalar)
                    {
                        ok = false;
                        ExpectedFound($"set '{Clip(name)}'", "an address or prefix");
                        continue;
                    }
                    var s = y.ReadScalar();
                    if (s.IsNull)
                    {
                        d.Error(s.Pos, $"empty element in set '{Clip(name)}'", s.Length);
                        ok = false;
                    }
                    else if (s.Value.StartsWith('@'))
                    {
                        d.Error(s.Pos, $"set '{Clip(name)}' refers to {s.Describe()}: a set holds addresses and prefixes, not other sets", s.Length);
                        ok = false;
                    }
                    else if (TryPrefix(s, out var p))
                    {
                        prefixes.Add(p);
                        budget.Take(s.Pos, s.Length);
                    }
                    else
                    {
                        ok = false;
                    }
                }
                y.Leave();
                return ok ? new PrefixSet { Name = name, Prefixes = prefixes, Pos = pos } : null;
            }
            case NodeKind.Mapping:
                return ReadSetMapping(name, pos, length, expected);
            case NodeKind.Scalar when IsNullValue():
                d.Error(pos, $"set '{Clip(name)}' has no value; expected {expected}", length);
                return null;
            default:
                ExpectedFound($"set '{Clip(name)}'", expected);
                return null;
        }
    }

    // ---- rules ----

    private void ReadRules()
    {
        if (IsNullValue())
            return;
        if (y.Kind != NodeKind.Sequence)
        {
            ExpectedFound("'rules'", "a list of rules");
            return;
        }
        y.Enter();
        while (!y.AtEnd)
        {
            int index = rules.Count;
            if (index == FwLimits.MaxRules)
            {
                // The file is refused: the rest is not read (60 MB of rules took a minute and gigabytes to build,
                // and YAML parses at a few MB/s even when nothing is built).
                d.Error(y.Pos, $"ruleset exceeds {FwLimits.MaxRules} rules; this is rule {FwLimits.MaxRules + 1} (the rest of the file is not read)", y.Length);
                throw new StopReading();
            }
            if (y.Kind == NodeKind.Mapping)
            {
                rules.Add(ReadRule(index));
            }
            else
            {
                ExpectedFound($"rule {index + 1}", "a rule (a mapping of action, src, dst, ...)");
                rules.Add(null);
            }
        }
        y.Leave();
    }

    private RawRule ReadRule(int index)
    {
        var r = new RawRule(index, y.Pos, file);
        ReadMapping($"rule {index + 1}", RuleKeys, (key, pos, length) =>
        {
            r.KeyPos[key] = pos;
            bool ok = key switch
            {
                "name" => ReadName(r, pos, length),
                "src" => (r.Src = ReadAddress(key, pos, length)).Ok,
                "dst" => (r.Dst = ReadAddress(key, pos, length)).Ok,
                "proto" => (r.Proto = ReadProto(pos, length)) is not null,
                "sport" => (r.Sport = ReadPorts(key, pos, length)) is not null,
                "dport" => (r.Dport = ReadPorts(key, pos, length)) is not null,
                "tcp_flags" => (r.TcpFlags = ReadTcpFlags(pos, length)) is not null,
                "icmp_type" => (r.IcmpType = ReadIcmpTypes(pos, length)) is not null,
                "state" => (r.State = ReadState(pos, length)) is not null,
                "track" => ReadTrack(r, pos, length),
                "log" => ReadRuleLog(r, pos, length),
                "action" => ReadAction(r, pos, length),
                "to" => ReadTo(r, pos, length),
                "limit" => (r.Limit = ReadLimit(pos, length)) is not null,
                "add_to" => ReadAddTo(r, pos, length),
                _ => throw new InvalidOperationException(key),
            };
            if (!ok)
                r.Bad.Add(key);
        });
        CheckRule(r);
        return r;
    }

    /// <summary>The rule's fields together: action and to, and the fields that need a protocol.</summary>
    private void CheckRule(RawRule r)
    {
        if (r.Action is null && !r.Bad.Contains("action"))
            d.Error(r.Pos, $"rule {r.Label} has no action (pass, drop or redirect)", r.FirstKeyLength);
        if (r.Action == RuleAction.Redirect && r.To is null && !r.Bad.Contains("to"))
            d.Error(r.ActionPos, "action redirect requires 'to' (the interface to send to)", r.ActionLength);
        if (r.Action is RuleAction.Pass or RuleAction.Drop && r.KeyPos.TryGetValue("to", out var toPos))
            d.Error(toPos, $"'to' is only for action redirect, not {r.Action.Value.ToString().ToLowerInvariant()}", 2);
        if (r.Track && r.Action is RuleAction.Drop or RuleAction.Redirect)
        {
            d.Error(r.KeyPos["track"], $"'track' is only for action pass (it admits the flow), not {r.Action.Value.ToString().ToLowerInvariant()}",
                "track".Length);
        }
        CheckLimitAction(r);

        if (r.Bad.Contains("proto"))
            return; // already reported; do not pile on
        var proto = r.Proto;
        foreach (var key in (string[])["sport", "dport"])
        {
            if (r.KeyPos.TryGetValue(key, out var pos) && (proto is null || proto.Any(p => p is not Ruleset.ProtoTcp and not Ruleset.ProtoUdp)))
                d.Error(pos, $"{key} requires proto tcp and/or udp{ProtoNote(proto)}", key.Length);
        }
        if (r.KeyPos.TryGetValue("tcp_flags", out var flagsPos) && (proto is null || proto.Any(p => p != Ruleset.ProtoTcp)))
            d.Error(flagsPos, $"tcp_flags requires proto tcp{ProtoNote(proto)}", "tcp_flags".Length);
        if (r.KeyPos.TryGetValue("icmp_type", out var icmpPos) && (proto is null || proto.Any(p => p is not Ruleset.ProtoIcmp and not Ruleset.ProtoIcmpV6)))
            d.Error(icmpPos, $"icmp_type requires proto icmp and/or icmpv6{ProtoNote(proto)}", "icmp_type".Length);
    }

    private static string ProtoNote(List<byte>? proto) =>
        proto is null ? " (the rule has no proto)" : $" (the rule has proto {string.Join(", ", proto.Select(ProtoName))})";

    private static string ProtoName(byte p) => p switch
    {
        Ruleset.ProtoTcp => "tcp",
        Ruleset.ProtoUdp => "udp",
        Ruleset.ProtoIcmp => "icmp",
        Ruleset.ProtoIcmpV6 => "icmpv6",
        _ => p.ToString(),
    };

    private ConnState? ReadState(SourcePos keyPos, int keyLength)
    {
        ConnState states = 0;
        bool ok = ReadScalars("state", "new, established or related", keyPos, keyLength, allowEmpty: false, s =>
        {
            ConnState? one = s.Value switch
            {
                "new" => ConnState.New,
                "established" => ConnState.Established,
                "related" => ConnState.Related,
                _ => null,
            };
            if (one is null)
            {
                d.Error(s.Pos, $"unknown state {s.Describe()}; expected new, established or related{Suggest(s.Value, ["new", "established", "related"])}", s.Length);
                return false;
            }
            if ((states & one.Value) != 0)
            {
                d.Error(s.Pos, $"state '{s.Value}' is listed twice", s.Length);
                return false;
            }
            states |= one.Value;
            return true;
        });
        return ok ? states : null;
    }

    private bool ReadTrack(RawRule r, SourcePos keyPos, int keyLength)
    {
        if (ReadBool("track", keyPos, keyLength) is not { } track)
            return false;
        r.Track = track;
        return true;
    }

    // ---- the packet log ----

    private void ReadLog()
    {
        if (IsNullValue())
            return;
        if (y.Kind != NodeKind.Mapping)
        {
            ExpectedFound("'log'", $"a mapping of {string.Join(", ", LogSettings.Keys)}");
            return;
        }
        ReadMapping("log", LogSettings.Keys, (key, pos, length) =>
        {
            switch (key)
            {
                case "rate":
                    if (ReadCount(key, pos, length, LogSettings.MinRate, LogSettings.MaxRate) is { } rate)
                        log = log with { Rate = (int)rate };
                    break;
                case "snaplen":
                    if (ReadCount(key, pos, length, LogSettings.MinSnaplen, LogSettings.MaxSnaplen) is { } snaplen)
                        log = log with { Snaplen = (int)snaplen };
                    break;
                default:
                    if (ReadLogEvery(key, pos, length, out var every))
                    {
                        log = key switch
                        {
                            "default" => log with { DefaultEvery = every },
                            "malformed" => log with { MalformedEvery = every },
                            _ => log with { NonIpEvery = every },
                        };
                    }
                    break;
            }
        });
    }

    private bool ReadRuleLog(RawRule r, SourcePos keyPos, int keyLength)
    {
        if (!ReadLogEvery("log", keyPos, keyLength, out var every))
            return false;
        r.LogEvery = every;
        return true;
    }

    /// <summary>
    /// A log value: true (every frame: 1), false (none: null), or "1/N" (one in N at random, N 1-1,000,000).
    /// False when reported.
    /// </summary>
    private bool ReadLogEvery(string key, SourcePos keyPos, int keyLength, out uint? every)
    {
        every = null;
        const string Expected = "true, false or \"1/N\" (one in N)";
        if (!TryScalar(key, Expected, keyPos, keyLength, out var s))
            return false;
        switch (s.Value)
        {
            case "true":
                every = 1;
                return true;
            case "false":
                return true;
        }
        string v = s.Value.Replace(" ", "");
        if (v.StartsWith("1/", StringComparison.Ordinal) && TryNumber(v[2..], out long n))
        {
            if (n is >= 1 and <= LogSettings.MaxEvery)
            {
                every = (uint)n;
                return true;
            }
            d.Error(s.Pos, $"{key} {s.Describe()}: N is out of range (1-{LogSettings.MaxEvery:N0})", s.Length);
            return false;
        }
        d.Error(s.Pos, $"bad {key} {s.Describe()}; expected {Expected}", s.Length);
        return false;
    }

    // ---- conntrack ----

    private void ReadConntrack()
    {
        if (IsNullValue())
            return;
        if (y.Kind != NodeKind.Mapping)
        {
            ExpectedFound("'conntrack'", "a mapping with max and timeouts");
            return;
        }
        ReadMapping("conntrack", ConntrackKeys, (key, pos, length) =>
        {
            if (key == "max")
            {
                if (ReadCount("max", pos, length, ConntrackSettings.MinMax, ConntrackSettings.MaxMax) is { } max)
                    conntrack = conntrack with { Max = (int)max };
                return;
            }
            if (IsNullValue())
                return;
            if (y.Kind != NodeKind.Mapping)
            {
                ExpectedFound("'timeouts'", $"a mapping of {string.Join(", ", ConntrackSettings.TimeoutKeys)} to seconds");
                return;
            }
            ReadMapping("conntrack timeouts", ConntrackSettings.TimeoutKeys, (t, tpos, tlength) =>
            {
                if (ReadCount(t, tpos, tlength, ConntrackSettings.MinTimeout, ConntrackSettings.MaxTimeout) is { } seconds)
                    conntrack = conntrack.WithTimeout(t, (uint)seconds);
            });
        });
    }

    /// <summary>A whole number in [min, max] at the cursor; reported and null otherwise.</summary>
    private long? ReadCount(string key, SourcePos keyPos, int keyLength, long min, long max)
    {
        if (!TryScalar(key, $"a number {min:N0}-{max:N0}", keyPos, keyLength, out var s))
            return null;
        if (!TryNumber(s.Value, out long n))
        {
            d.Error(s.Pos, $"bad {key} {s.Describe()}; expected a number {min:N0}-{max:N0}", s.Length);
            return null;
        }
        if (n < min || n > max)
        {
            d.Error(s.Pos, $"{key} {Clip(s.Value)} is out of range ({min:N0}-{max:N0})", s.Length);
            return null;
        }
        return n;
    }

    private bool ReadName(RawRule r, SourcePos keyPos, int keyLength)
    {
        if (!TryScalar("name", "a rule name", keyPos, keyLength, out var s))
            return false;
        if (NameProblem(s.Value, "rule name") is string problem)
        {
            d.Error(s.Pos, problem, s.Length);
            return false;
        }
        r.Name = s.Value;
        r.NamePos = s.Pos;
        r.NameLength = s.Length;
        return true;
    }

    private RawAddress ReadAddress(string key, SourcePos keyPos, int keyLength)
    {
        var a = new RawAddress();
        a.Ok = ReadScalars(key, AddressExpected, keyPos, keyLength, allowEmpty: false, s =>
        {
            if (s.Value.StartsWith('@'))
            {
                string name = s.Value[1..];
                if (name.Length == 0)
                {
                    d.Error(s.Pos, "'@' without a set name", s.Length);
                    return false;
                }
                a.SetRefs.Add((name, s.Pos, s.Length));
                return true;
            }
            if (!TryPrefix(s, out var p))
                return false;
            a.Prefixes.Add(p);
            budget.Take(s.Pos, s.Length);
            return true;
        });
        return a;
    }

    private List<byte>? ReadProto(SourcePos keyPos, int keyLength)
    {
        var list = new List<byte>();
        bool ok = ReadScalars("proto", "tcp, udp, icmp, icmpv6 or a number 0-255", keyPos, keyLength, allowEmpty: false, s =>
        {
            byte? p = s.Value.ToLowerInvariant() switch
            {
                "tcp" => Ruleset.ProtoTcp,
                "udp" => Ruleset.ProtoUdp,
                "icmp" => Ruleset.ProtoIcmp,
                "icmpv6" or "ipv6-icmp" => Ruleset.ProtoIcmpV6,
                _ => null,
            };
            if (p is null)
            {
                if (!TryNumber(s.Value, out long n))
                {
                    d.Error(s.Pos, $"unknown protocol {s.Describe()}; expected tcp, udp, icmp, icmpv6 or a number 0-255", s.Length);
                    return false;
                }
                if (n > 255)
                {
                    d.Error(s.Pos, $"protocol number {Clip(s.Value)} is out of range (0-255)", s.Length);
                    return false;
                }
                p = (byte)n;
            }
            if (!list.Contains(p.Value))
                list.Add(p.Value);
            return true;
        });
        return ok ? list : null;
    }

    private List<PortRange>? ReadPorts(string key, SourcePos keyPos, int keyLength)
    {
        var list = new List<PortRange>();
        bool ok = ReadScalars(key, "a port (0-65535) or a range \"lo-hi\"", keyPos, keyLength, allowEmpty: false, s =>
        {
            string v = s.Value;
            int dash = v.IndexOf('-');
            string lowText = dash < 0 ? v : v[..dash];
            string highText = dash < 0 ? v : v[(dash + 1)..];
            if (!TryNumber(lowText, out long low) || !TryNumber(highText, out long high))
            {
                d.Error(s.Pos, $"bad port {s.Describe()} in {key}; expected a port (0-65535) or a range lo-hi", s.Length);
                return false;
            }
            if (low > 65535 || high > 65535)
            {
                string which = low > 65535 ? lowText : highText;
                d.Error(s.Pos, $"port {Clip(which)} is out of range (0-65535)", s.Length);
                return false;
            }
            if (low > high)
            {
                d.Error(s.Pos, $"reversed port range '{Clip(v)}' (low above high); did you mean {high}-{low}?", s.Length);
                return false;
            }
            list.Add(new PortRange((ushort)low, (ushort)high));
            return true;
        });
        return ok ? list : null;
    }

    private TcpFlagsMatch? ReadTcpFlags(SourcePos keyPos, int keyLength)
    {
        if (!TryScalar("tcp_flags", "flags like \"syn,!ack\"", keyPos, keyLength, out var s))
            return null;
        byte mask = 0, value = 0;
        bool ok = true;
        var seen = new Dictionary<byte, bool>();
        int at = 0;
        foreach (string part in s.Value.Split(','))
        {
            int lead = part.Length - part.TrimStart().Length;
            string token = part.Trim();
            var pos = s.At(at + lead);
            int length = Math.Max(1, token.Length);
            at += part.Length + 1;
            bool clear = token.StartsWith('!');
            string flagName = (clear ? token[1..] : token).Trim().ToLowerInvariant();
            if (flagName.Length == 0)
            {
                d.Error(pos, $"empty flag in tcp_flags {s.Describe()}; expected names like \"syn,!ack\"", length);
                ok = false;
                continue;
            }
            int k = TcpFlagsMatch.Names.ToList().FindIndex(n => n.Name == flagName);
            if (k < 0)
            {
                d.Error(pos, $"unknown TCP flag '{Clip(flagName)}'; expected fin, syn, rst, psh, ack, urg, ece or cwr", length);
                ok = false;
                continue;
            }
            byte bit = TcpFlagsMatch.Names[k].Bit;
            if (seen.TryGetValue(bit, out bool wasClear))
            {
                d.Error(pos, wasClear == clear
                    ? $"TCP flag '{Clip(flagName)}' is listed twice"
                    : $"TCP flag '{Clip(flagName)}' is both set and cleared", length);
                ok = false;
                continue;
            }
            seen[bit] = clear;
            mask |= bit;
            if (!clear)
                value |= bit;
        }
        return ok ? new TcpFlagsMatch(mask, value) : null;
    }

    private List<byte>? ReadIcmpTypes(SourcePos keyPos, int keyLength)
    {
        var list = new List<byte>();
        bool ok = ReadScalars("icmp_type", "a number 0-255", keyPos, keyLength, allowEmpty: false, s =>
        {
            if (!TryNumber(s.Value, out long n))
            {
                d.Error(s.Pos, $"bad icmp_type {s.Describe()}; expected a number 0-255", s.Length);
                return false;
            }
            if (n > 255)
            {
                d.Error(s.Pos, $"icmp_type {Clip(s.Value)} is out of range (0-255)", s.Length);
                return false;
            }
            if (!list.Contains((byte)n))
                list.Add((byte)n);
            return true;
        });
        return ok ? list : null;
    }

    private bool ReadAction(RawRule r, SourcePos keyPos, int keyLength)
    {
        if (!TryScalar("action", "pass, drop or redirect", keyPos, keyLength, out var s))
            return false;
        r.ActionPos = s.Pos;
        r.ActionLength = s.Length;
        switch (s.Value.ToLowerInvariant())
        {
            case "pass":
                r.Action = RuleAction.Pass;
                return true;
            case "drop":
                r.Action = RuleAction.Drop;
                return true;
            case "redirect":
                r.Action = RuleAction.Redirect;
                return true;
            default:
                d.Error(s.Pos, $"unknown action '{Clip(s.Value)}'", s.Length);
                return false;
        }
    }

    private bool ReadTo(RawRule r, SourcePos keyPos, int keyLength)
    {
        if (!TryScalar("to", "an interface name", keyPos, keyLength, out var s))
            return false;
        if (InterfaceName.Problem(s.Value) is string problem)
        {
            d.Error(s.Pos, problem, s.Length);
            return false;
        }
        r.To = s.Value;
        return true;
    }

    // ---- whole-file checks ----

    private void ResolveSetReferences()
    {
        foreach (var r in rules)
        {
            if (r is null)
                continue;
            foreach (var a in (RawAddress?[])[r.Src, r.Dst])
            {
                if (a is null)
                    continue;
                var named = new HashSet<PrefixSet>(ReferenceEqualityComparer.Instance);
                foreach (var (name, pos, length) in a.SetRefs)
                {
                    if (sets.TryGetValue(name, out var set))
                    {
                        if (named.Add(set))
                            a.Sets.Add(set);
                    }
                    else if (!brokenSets.Contains(name))
                    {
                        // A file full of bad references to a file full of sets: only the errors kept get a suggestion.
                        string hint = d.Keeps(pos.File) ? Suggest(name, sets.Keys.Concat(brokenSets), "@") : "";
                        d.Error(pos, $"unknown set '{Clip(name)}'{hint}", length);
                    }
                }
            }
        }
    }

    private void CheckNames()
    {
        var first = new Dictionary<string, RawRule>(StringComparer.Ordinal);
        foreach (var r in rules)
        {
            if (r?.Name is not string name)
                continue;
            if (first.TryGetValue(name, out var other))
                d.Error(r.NamePos, $"duplicate rule name '{Clip(name)}' (first used by rule {other.Index + 1} at {other.NamePos})", r.NameLength);
            else
                first[name] = r;
        }
        // A name of the form rule-N taken by another rule than the N-th, while the N-th has no name, would
        // give two rules one name (counters are found by name).
        foreach (var r in rules)
        {
            if (r?.Name is not string name || !name.StartsWith("rule-", StringComparison.Ordinal)
                || !int.TryParse(name.AsSpan(5), System.Globalization.NumberStyles.None, null, out int n)
                || name != $"rule-{n}" || n < 1 || n > rules.Count || n == r.Index + 1)
                continue;
            var owner = rules[n - 1];
            if (owner is not null && owner.Name is null)
                d.Error(r.NamePos, $"rule name '{Clip(name)}' is the default name of rule {n} (at {owner.Pos}), which has no name", r.NameLength);
        }
    }

    // ---- reading helpers ----

    /// <summary>
    /// Reads a mapping at the cursor: each key once, known keys only (any key when <paramref name="known"/> is
    /// null); <paramref name="onValue"/> must consume the value. Bad keys are reported and their values skipped.
    /// </summary>
    private void ReadMapping(string context, string[]? known, Action<string, SourcePos, int> onValue)
    {
        y.Enter();
        var seen = new Dictionary<string, SourcePos>(StringComparer.Ordinal);
        while (!y.AtEnd)
        {
            if (y.Kind != NodeKind.Scalar)
            {
                if (y.Kind != NodeKind.Alias)
                    d.Error(y.Pos, $"expected a key in {context}, found {y.Describe()}", y.Length);
                y.Skip();
                y.Skip();
                continue;
            }
            var key = y.ReadScalar();
            if (y.AtEnd)
            {
                // Only on broken input YamlDotNet accepts: a key whose value it dropped.
                d.Error(key.Pos, $"'{Clip(key.Value)}' in {context} has no value", key.Length);
                continue;
            }
            if (seen.TryGetValue(key.Value, out var firstPos))
            {
                d.Error(key.Pos, $"duplicate key '{Clip(key.Value)}' in {context} (first at {firstPos})", key.Length);
                y.Skip();
                continue;
            }
            seen[key.Value] = key.Pos;
            if (known is not null && Array.IndexOf(known, key.Value) < 0)
            {
                d.Error(key.Pos, $"unknown key '{Clip(key.Value)}' in {context}{Suggest(key.Value, known)}", key.Length);
                y.Skip();
                continue;
            }
            onValue(key.Value, key.Pos, key.Length);
        }
        y.Leave();
    }

    /// <summary>One scalar or a list of scalars; each goes to <paramref name="each"/>, which reports its own errors.</summary>
    /// <returns>True when the value and every element were good.</returns>
    private bool ReadScalars(string key, string expected, SourcePos keyPos, int keyLength, bool allowEmpty, Func<ScalarNode, bool> each)
    {
        switch (y.Kind)
        {
            case NodeKind.Scalar:
            {
                var s = y.ReadScalar();
                if (s.IsNull)
                {
                    d.Error(keyPos, $"'{key}' has no value; expected {expected} or a list of those", keyLength);
                    return false;
                }
                return each(s);
            }
            case NodeKind.Sequence:
            {
                var listPos = y.Pos;
                bool ok = true;
                int count = 0;
                y.Enter();
                while (!y.AtEnd)
                {
                    count++;
                    if (y.Kind != NodeKind.Scalar)
                    {
                        ExpectedFound($"'{key}'", expected);
                        ok = false;
                        continue;
                    }
                    var s = y.ReadScalar();
                    if (s.IsNull)
                    {
                        d.Error(s.Pos, $"empty element in '{key}'; expected {expected}", s.Length);
                        ok = false;
                    }
                    else if (!each(s))
                    {
                        ok = false;
                    }
                }
                y.Leave();
                if (count == 0 && !allowEmpty)
                {
                    d.Error(listPos, $"'{key}' is an empty list, which would match nothing; remove the key to match anything", 1);
                    ok = false;
                }
                return ok;
            }
            default:
                ExpectedFound($"'{key}'", $"{expected} or a list of those");
                return false;
        }
    }

    /// <summary>A single non-empty scalar; anything else is reported (an empty value at the key).</summary>
    private bool TryScalar(string key, string expected, SourcePos keyPos, int keyLength, out ScalarNode s)
    {
        s = default;
        if (y.Kind != NodeKind.Scalar)
        {
            ExpectedFound($"'{key}'", expected);
            return false;
        }
        s = y.ReadScalar();
        if (s.IsNull)
        {
            d.Error(keyPos, $"'{key}' has no value; expected {expected}", keyLength);
            return false;
        }
        return true;
    }

    /// <summary>Consumes an empty value (nothing, "~" or "null"); false when the value is something else.</summary>
    private bool IsNullValue()
    {
        if (y.Current is Scalar { Value: "" or "~" or "null" or "Null" or "NULL", Style: YamlDotNet.Core.ScalarStyle.Plain, Tag.IsEmpty: true })
        {
            y.Skip();
            return true;
        }
        return false;
    }

    /// <summary>Reports the node at the cursor as the wrong kind (aliases are already reported) and skips it.</summary>
    private void ExpectedFound(string where, string expected)
    {
        if (y.Kind != NodeKind.Alias)
            d.Error(y.Pos, $"{where}: expected {expected}, found {y.Describe()}", y.Length);
        y.Skip();
    }

    private bool TryPrefix(ScalarNode s, out IpPrefix prefix)
    {
        var error = PrefixParser.TryParse(s.Value, out prefix);
        if (error == PrefixError.None)
        {
            if (MappedIPv4.IsMapped(prefix))
                d.Add(new Diagnostic(Severity.Warning, s.Pos, MappedIPv4.Warning(prefix, s.Value), s.Length));
            return true;
        }
        d.Error(s.Pos, PrefixParser.Describe(error, s.Value, prefix), s.Length);
        return false;
    }

    /// <summary>Decimal digits only (no sign, no 0x); values past long saturate, so "port 99999999999999999999" reads as out of range.</summary>
    private static bool TryNumber(string text, out long value)
    {
        value = 0;
        if (text.Length == 0)
            return false;
        foreach (char c in text)
        {
            if (c is < '0' or > '9')
                return false;
            value = value > long.MaxValue / 10 - 1 ? long.MaxValue : value * 10 + (c - '0');
        }
        return true;
    }

    internal static string? NameProblem(string name, string what)
    {
        if (name.Length == 0)
            return $"empty {what}";
        foreach (Rune r in name.EnumerateRunes())
        {
            if (!(Rune.IsLetterOrDigit(r) && r.IsAscii || r.Value is '_' or '.' or ':' or '-'))
                return $"{what} '{Clip(name)}' contains {CharName(r)}; use letters, digits and _ . : -";
        }
        if (name.Length > FwLimits.MaxNameBytes)
            return $"{what} '{Clip(name)}' is {name.Length} characters long; at most {FwLimits.MaxNameBytes}";
        return null;
    }

    /// <summary>
    /// A value as messages quote it: long ones cut (a 10 MB scalar must not make a 10 MB message).
    /// Control characters are shown as \uXXXX (<see cref="Printable"/>): a message must not ring the terminal or move its cursor.
    /// </summary>
    internal static string Clip(string value)
    {
        int cut = value.Length > 60 && char.IsHighSurrogate(value[60]) ? 60 : 61;   // never half a character
        return Printable.Clean(value.Length <= 64 ? value : string.Concat(value.AsSpan(0, cut), "..."));
    }

    internal static string CharName(Rune r) =>
        Rune.IsControl(r) || Rune.IsWhiteSpace(r) || r == Rune.ReplacementChar ? $"U+{r.Value:X4}" : $"'{r}'";

    /// <summary>Candidates <see cref="Suggest"/> looks at; past it (generated rulesets with many sets), none is offered.</summary>
    internal const int MaxSuggestCandidates = 4096;

    /// <summary>"; did you mean 'x'?" for the closest candidate within two edits, else "".</summary>
    internal static string Suggest(string word, IEnumerable<string> candidates, string prefix = "")
    {
        string? best = null;
        int bestDistance = int.MaxValue;
        int seen = 0;
        foreach (var c in candidates)
        {
            if (++seen > MaxSuggestCandidates)
                return "";
            int dist = Distance(word, c);
            if (dist < bestDistance)
                (best, bestDistance) = (c, dist);
        }
        return best is not null && bestDistance <= Math.Min(2, Math.Max(1, word.Length / 3))
            ? $"; did you mean '{prefix}{best}'?"
            : "";
    }

    /// <summary>Edit distance counting a swap of neighbours as one edit ("dprot" is one from "dport").</summary>
    private static int Distance(string a, string b)
    {
        if (Math.Abs(a.Length - b.Length) > 2 || a.Length > 64 || b.Length > 64)
            return int.MaxValue;
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++)
            d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++)
            d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = char.ToLowerInvariant(a[i - 1]) == char.ToLowerInvariant(b[j - 1]) ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
            }
        }
        return d[a.Length, b.Length];
    }

    // ---- what a rule holds while the file is read ----

    private sealed class RawAddress
    {
        public List<IpPrefix> Prefixes { get; } = [];
        public List<(string Name, SourcePos Pos, int Length)> SetRefs { get; } = [];
        public List<PrefixSet> Sets { get; } = [];
        public bool Ok { get; set; }

        public AddressMatch Build() => new() { Prefixes = Prefixes, Sets = Sets };
    }

    private sealed class RawRule(int index, SourcePos pos, string file)
    {
        public int Index { get; } = index;
        public SourcePos Pos { get; } = pos;
        public Dictionary<string, SourcePos> KeyPos { get; } = new(StringComparer.Ordinal);
        public HashSet<string> Bad { get; } = new(StringComparer.Ordinal);

        public string? Name { get; set; }
        public SourcePos NamePos { get; set; } = new(file, 0, 0);
        public int NameLength { get; set; }
        public RawAddress? Src { get; set; }
        public RawAddress? Dst { get; set; }
        public List<byte>? Proto { get; set; }
        public List<PortRange>? Sport { get; set; }
        public List<PortRange>? Dport { get; set; }
        public TcpFlagsMatch? TcpFlags { get; set; }
        public List<byte>? IcmpType { get; set; }
        public ConnState? State { get; set; }
        public bool Track { get; set; }
        public uint? LogEvery { get; set; }
        public RuleAction? Action { get; set; }
        public SourcePos ActionPos { get; set; }
        public int ActionLength { get; set; }
        public string? To { get; set; }
        public RuleLimit? Limit { get; set; }
        public (string Name, SourcePos Pos, int Length)? AddToRef { get; set; }
        public PrefixSet? AddTo { get; set; }

        public string Label => Name is not null ? $"'{Name}'" : $"{Index + 1}";

        public int FirstKeyLength => KeyPos.FirstOrDefault(k => k.Value == Pos).Key?.Length ?? 1;

        public Rule Build() => new()
        {
            Index = Index,
            Name = Name ?? $"rule-{Index + 1}",
            Pos = Pos,
            Src = Src?.Build(),
            Dst = Dst?.Build(),
            Proto = Proto,
            Sport = Sport,
            Dport = Dport,
            TcpFlags = TcpFlags,
            IcmpType = IcmpType,
            State = State,
            LogEvery = LogEvery,
            Action = Action!.Value,
            To = To,
            Track = Track,
            Limit = Limit,
            AddTo = AddTo,
            KeyPos = KeyPos,
        };
    }
}
