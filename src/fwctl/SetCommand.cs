using System.CommandLine;
using System.CommandLine.Parsing;
using Fw.Bpf;
using Fw.Kernel;
using Fw.Rules;

namespace Fw.Cli;

/// <summary>
/// fwctl set: an attached interface's live sets (`dynamic: true` in the rules) at run time.
/// list IFACE [SET]: each set's entries/max, timeout and counters, then its entries with their time to expiry;
/// add IFACE SET PREFIX... [--timeout SECONDS]; del IFACE SET PREFIX...; flush IFACE SET;
/// sync IFACE SET --file FILE|-: the set holds exactly the list afterwards (one prefix a line, as a set file).
/// A prefix with host bits set is refused, as in a set file; any invalid prefix changes nothing (exit 2).
/// The work is <see cref="LiveSets"/>'; this only parses and prints.
/// </summary>
internal static class SetCommand
{
    private static readonly Option<uint?> TimeoutOption = new("--timeout")
    {
        Description = $"Seconds until the entries expire (default: the set's timeout; 0: never; at most {PrefixSet.MaxTimeout:N0})",
        CustomParser = r =>
        {
            string t = r.Tokens.Count > 0 ? r.Tokens[0].Value : "";
            if (uint.TryParse(t, System.Globalization.NumberStyles.None, null, out uint s) && s <= PrefixSet.MaxTimeout)
                return s;
            r.AddError($"--timeout: '{Printable.Clean(t)}' is not a number of seconds from 0 to {PrefixSet.MaxTimeout}");
            return null;
        },
    };

    private static readonly Option<string> FileOption = new("--file")
    {
        Description = "The list: one address or prefix a line, '#' comments (a set file's format); '-' reads standard input",
        Required = true,
    };

    public static Command Create(TextWriter stdout, TextWriter stderr, Func<Stream> stdin)
    {
        var cmd = new Command("set", "Show and change an attached interface's live sets (sets with dynamic: true)");

        var listIface = InterfaceArgument.Required("The interface");
        var listSet = SetArgument(optional: true);
        var list = new Command("list", "Each live set (or SET): entries/max, timeout, counters, then its entries and their time to expiry")
        {
            listIface, listSet, FwctlApp.JsonOption,
        };
        list.SetAction(p => List(p.GetValue(listIface)!, p.GetValue(listSet), p.GetValue(FwctlApp.JsonOption), stdout, stderr));

        var addIface = InterfaceArgument.Required("The interface");
        var addSet = SetArgument();
        var addPrefixes = PrefixArguments("The addresses or prefixes to add (host bits clear)");
        var add = new Command("add", "Add prefixes to a live set (one already there gets the new expiry); a full set refuses the rest (exit 1)")
        {
            addIface, addSet, addPrefixes, TimeoutOption, FwctlApp.JsonOption,
        };
        add.SetAction(p => Add(p.GetValue(addIface)!, p.GetValue(addSet)!, p.GetValue(addPrefixes)!, p.GetValue(TimeoutOption),
            p.GetValue(FwctlApp.JsonOption), stdout, stderr));

        var delIface = InterfaceArgument.Required("The interface");
        var delSet = SetArgument();
        var delPrefixes = PrefixArguments("The entries to remove (exactly as they are in the set)");
        var del = new Command("del", "Remove entries from a live set")
        {
            delIface, delSet, delPrefixes, FwctlApp.JsonOption,
        };
        del.SetAction(p => Delete(p.GetValue(delIface)!, p.GetValue(delSet)!, p.GetValue(delPrefixes)!, p.GetValue(FwctlApp.JsonOption), stdout, stderr));

        var flushIface = InterfaceArgument.Required("The interface");
        var flushSet = SetArgument();
        var flush = new Command("flush", "Remove every entry of a live set")
        {
            flushIface, flushSet, FwctlApp.JsonOption,
        };
        flush.SetAction(p => Flush(p.GetValue(flushIface)!, p.GetValue(flushSet)!, p.GetValue(FwctlApp.JsonOption), stdout, stderr));

        var syncIface = InterfaceArgument.Required("The interface");
        var syncSet = SetArgument();
        var sync = new Command("sync", "Make a live set hold exactly a list: add what is new, remove what is gone, renew the rest to the set's timeout; "
            + "any invalid line changes nothing (exit 2)")
        {
            syncIface, syncSet, FileOption, FwctlApp.JsonOption,
        };
        sync.SetAction(p => Sync(p.GetValue(syncIface)!, p.GetValue(syncSet)!, p.GetValue(FileOption)!, p.GetValue(FwctlApp.JsonOption),
            stdout, stderr, stdin));

        cmd.Subcommands.Add(list);
        cmd.Subcommands.Add(add);
        cmd.Subcommands.Add(del);
        cmd.Subcommands.Add(flush);
        cmd.Subcommands.Add(sync);
        return cmd;
    }

    /// <summary>The SET argument, checked as a set name while the command line is parsed (exit 2 before any path is built).</summary>
    private static Argument<string?> SetArgument(bool optional = false)
    {
        var argument = new Argument<string?>("SET")
        {
            Description = optional ? "Only this live set" : "The live set (its name in the rules)",
            Arity = optional ? ArgumentArity.ZeroOrOne : ArgumentArity.ExactlyOne,
        };
        argument.Validators.Add(result =>
        {
            foreach (var token in result.Tokens)
            {
                if (SetName.Problem(token.Value) is { } problem)
                    result.AddError($"SET: {problem}");
            }
        });
        return argument;
    }

    private static Argument<string[]> PrefixArguments(string description) =>
        new("PREFIX") { Description = description, Arity = ArgumentArity.OneOrMore };

    public static int List(string iface, string? set, bool json, TextWriter stdout, TextWriter stderr)
    {
        return Output.Run(json, stdout, stderr, () =>
        {
            Firewall.RequireRoot();
            var sets = LiveSets.List(iface, set);
            ulong now = KernelClock.CoarseNs();
            if (json)
            {
                Output.WriteJson(stdout, new Dictionary<string, object?>
                {
                    ["interface"] = iface,
                    ["sets"] = sets.Select(s => ToJson(s, now)).ToList(),
                });
                return FwctlApp.ExitOk;
            }
            if (sets.Count == 0)
            {
                stdout.WriteLine($"{iface}: no live sets");
                return FwctlApp.ExitOk;
            }
            bool first = true;
            foreach (var s in sets)
            {
                if (!first)
                    stdout.WriteLine();
                first = false;
                var c = s.Counts;
                string timeout = c.Timeout is uint t ? "timeout " + Format.Seconds(t) : "no timeout";
                stdout.WriteLine($"{c.Name}: {c.Entries:N0} of {c.Max:N0} entries, {timeout}; {c.Added:N0} added, {c.Refreshed:N0} refreshed, "
                    + $"{c.Full:N0} refused (full), {c.Expired:N0} expired, {c.Removed:N0} removed");
                if (s.Entries.Count == 0)
                    continue;
                var table = new Table(["PREFIX", "EXPIRES IN"], 0);
                foreach (var e in s.Entries)
                    table.Add([e.Prefix.ToString(), ExpiresIn(e, now) is ulong secs ? (e.LiveAt(now) ? Format.Seconds(secs) : "expired") : "never"]);
                table.Write(stdout);
            }
            return FwctlApp.ExitOk;
        });
    }

    /// <summary>Seconds until the entry expires (rounded up, 0 once expired); null: never.</summary>
    private static ulong? ExpiresIn(LiveSetEntry e, ulong now)
    {
        if (e.ExpiresNs == 0)
            return null;
        return e.ExpiresNs <= now ? 0 : (e.ExpiresNs - now + 999_999_999) / 1_000_000_000;
    }

    private static Dictionary<string, object?> ToJson(LiveSetListing s, ulong now) => new()
    {
        ["name"] = s.Counts.Name,
        ["size"] = s.Counts.Entries,
        ["max"] = s.Counts.Max,
        ["timeout"] = s.Counts.Timeout,
        ["counters"] = new Dictionary<string, object?>
        {
            ["added"] = s.Counts.Added,
            ["refreshed"] = s.Counts.Refreshed,
            ["full"] = s.Counts.Full,
            ["expired"] = s.Counts.Expired,
            ["removed"] = s.Counts.Removed,
        },
        ["entries"] = s.Entries.Select(e => new Dictionary<string, object?>
        {
            ["prefix"] = e.Prefix.ToString(),
            ["expires_in"] = ExpiresIn(e, now),
        }).ToList(),
    };

    public static int Add(string iface, string set, IReadOnlyList<string> texts, uint? timeout, bool json, TextWriter stdout, TextWriter stderr)
    {
        if (!ParsePrefixes("add", texts, json, stdout, stderr, out var prefixes, out int failed))
            return failed;
        return Output.Run(json, stdout, stderr, () =>
        {
            Firewall.RequireRoot();
            var change = LiveSets.Add(iface, set, prefixes, timeout);
            if (change.Refused > 0)
            {
                int max = LiveSets.List(iface, set) is [var s] ? s.Counts.Max : 0;
                return Output.Fail(json, stdout, stderr, FwctlApp.ExitFailure, change.FullError(iface, set, max, prefixes.Distinct().Count()),
                    fields: Fields(iface, set, change));
            }
            return Summary(iface, set, change, json, stdout);
        });
    }

    public static int Delete(string iface, string set, IReadOnlyList<string> texts, bool json, TextWriter stdout, TextWriter stderr)
    {
        if (!ParsePrefixes("del", texts, json, stdout, stderr, out var prefixes, out int failed))
            return failed;
        return Output.Run(json, stdout, stderr, () =>
        {
            Firewall.RequireRoot();
            return Summary(iface, set, LiveSets.Delete(iface, set, prefixes), json, stdout);
        });
    }

    public static int Flush(string iface, string set, bool json, TextWriter stdout, TextWriter stderr)
    {
        return Output.Run(json, stdout, stderr, () =>
        {
            Firewall.RequireRoot();
            return Summary(iface, set, LiveSets.Flush(iface, set), json, stdout);
        });
    }

    public static int Sync(string iface, string set, string file, bool json, TextWriter stdout, TextWriter stderr, Func<Stream> stdin)
    {
        PrefixListResult list;
        if (file == "-")
        {
            using var input = stdin();
            list = PrefixList.ReadStream(input, PrefixList.StdinName, PrefixList.StreamTimeout);
        }
        else
        {
            list = PrefixList.ReadFile(file);
        }
        DiagnosticWriter.Write(stderr, list.Diagnostics);
        if (list.HasErrors)
        {
            int errors = list.Diagnostics.Count(d => d.Severity == Severity.Error);
            string shown = file == "-" ? PrefixList.StdinName : file;
            string message = $"set sync: {errors} error{(errors == 1 ? "" : "s")} in {shown}; {set} of {iface} not changed";
            stderr.WriteLine($"fwctl: {Printable.Clean(message)}");
            if (json)
            {
                Output.WriteJson(stdout, new Dictionary<string, object?>
                {
                    ["error"] = Printable.Clean(message),
                    ["diagnostics"] = list.Diagnostics.Select(Output.ToJson).ToList(),
                });
            }
            return FwctlApp.ExitUsage;
        }
        return Output.Run(json, stdout, stderr, () =>
        {
            Firewall.RequireRoot();
            var change = LiveSets.Sync(iface, set, list.Prefixes);
            if (change.Refused > 0)
            {
                int max = LiveSets.List(iface, set) is [var s] ? s.Counts.Max : 0;
                return Output.Fail(json, stdout, stderr, FwctlApp.ExitFailure, change.FullError(iface, set, max, list.Prefixes.Distinct().Count()),
                    fields: Fields(iface, set, change));
            }
            return Summary(iface, set, change, json, stdout);
        });
    }

    /// <summary>The command line's prefixes; every invalid one printed (exit 2, nothing changed).</summary>
    private static bool ParsePrefixes(string verb, IReadOnlyList<string> texts, bool json, TextWriter stdout, TextWriter stderr,
        out List<IpPrefix> prefixes, out int exit)
    {
        prefixes = new List<IpPrefix>(texts.Count);
        var errors = new List<string>();
        foreach (string t in texts)
        {
            var error = PrefixParser.TryParse(t, out IpPrefix p);
            if (error != PrefixError.None)
            {
                errors.Add($"set {verb}: {PrefixParser.Describe(error, t, p)}");
                continue;
            }
            if (MappedIPv4.IsMapped(p))
                stderr.WriteLine($"fwctl: warning: {Printable.Clean(MappedIPv4.Warning(p, t))}");
            prefixes.Add(p);
        }
        exit = FwctlApp.ExitOk;
        if (errors.Count == 0)
            return true;
        exit = Output.Fail(json, stdout, stderr, FwctlApp.ExitUsage, errors[0] + (errors.Count > 1 ? $" (and {errors.Count - 1} more; nothing changed)" : " (nothing changed)"),
            extra: errors.Skip(1).Select(e => "fwctl: " + e), fields: new Dictionary<string, object?> { ["errors"] = errors.Select(Printable.Clean).ToList() });
        return false;
    }

    private static Dictionary<string, object?> Fields(string iface, string set, LiveSetChange c) => new()
    {
        ["interface"] = iface,
        ["set"] = set,
        ["added"] = c.Added,
        ["refreshed"] = c.Refreshed,
        ["removed"] = c.Removed,
        ["absent"] = c.Absent,
        ["refused"] = c.Refused,
    };

    private static int Summary(string iface, string set, LiveSetChange c, bool json, TextWriter stdout)
    {
        if (json)
        {
            Output.WriteJson(stdout, Fields(iface, set, c));
            return FwctlApp.ExitOk;
        }
        string absent = c.Absent > 0 ? $" ({c.Absent:N0} not in the set)" : "";
        stdout.WriteLine($"{iface} {set}: added {c.Added:N0}, refreshed {c.Refreshed:N0}, removed {c.Removed:N0}{absent}");
        return FwctlApp.ExitOk;
    }
}
