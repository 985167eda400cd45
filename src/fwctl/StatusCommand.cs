using System.CommandLine;
using Fw.Bpf;
using Fw.Kernel;

namespace Fw.Cli;

/// <summary>fwctl status [--json]: what is attached where, from the pinned state.</summary>
internal static class StatusCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var cmd = new Command("status", "Show attached interfaces: XDP mode, generation, ruleset file and hash, rule and prefix counts, load time")
        {
            FwctlApp.JsonOption,
        };
        cmd.SetAction(p => Run(p.GetValue(FwctlApp.JsonOption), stdout, stderr));
        return cmd;
    }

    public static int Run(bool json, TextWriter stdout, TextWriter stderr)
    {
        return Output.Run(json, stdout, stderr, () =>
        {
            var rows = new List<Dictionary<string, object?>>();
            foreach (string iface in PinLayout.Interfaces())
            {
                try
                {
                    using var s = InterfaceState.Open(iface);
                    var m = s.Meta;
                    var state = Firewall.StateOf(iface);
                    uint progId = 0;
                    try
                    {
                        progId = Firewall.AttachedProgramId(iface);
                    }
                    catch (BpfException)
                    {
                        // The interface is gone; its pins remain until detach.
                    }
                    // Attached: fw's link holds the interface and its dispatcher is what runs there.
                    bool attached = state == AttachState.Attached && progId != 0 && progId == FdHandle.IdOfPinned(PinLayout.Prog(iface));
                    rows.Add(new Dictionary<string, object?>
                    {
                        ["interface"] = iface,
                        ["mode"] = Format.Mode((XdpMode)m.XdpMode),
                        ["attached"] = attached,
                        ["state"] = state switch
                        {
                            AttachState.Defunct => "defunct",
                            AttachState.NotAttached => "detached",
                            _ => attached ? "attached" : "replaced",
                        },
                        ["program_id"] = progId,
                        ["generation"] = m.Generation,
                        ["rules_file"] = m.FileName,
                        ["digest"] = m.DigestHex,
                        ["rules"] = m.Rules,
                        ["prefixes"] = m.Prefixes,
                        ["loaded_at"] = DateTimeOffset.FromUnixTimeMilliseconds((long)(m.LoadedNs / 1_000_000)).ToString("yyyy-MM-ddTHH:mm:ssZ"),
                        ["pending_confirm"] = ConfirmCommands.ToJson(state == AttachState.Attached ? Firewall.Pending(iface) : null),
                    });
                }
                catch (Exception e) when (e is BpfException { Errno: 2 } or FirewallException { Error: FirewallError.NotAttached }
                    && !Directory.Exists(PinLayout.Dir(iface)))
                {
                    // Detached between listing and reading (its pins are gone): not attached, so not listed.
                }
            }
            if (json)
            {
                Output.WriteJson(stdout, rows);
                return FwctlApp.ExitOk;
            }
            if (rows.Count == 0)
            {
                stdout.WriteLine("fw is not attached to any interface");
                return FwctlApp.ExitOk;
            }
            var t = new Table(["INTERFACE", "MODE", "GENERATION", "RULES", "PREFIXES", "LOADED", "RULESET", "SHA-256"]);
            foreach (var r in rows)
            {
                t.Add([(string)r["interface"]!, (bool)r["attached"]! ? (string)r["mode"]! : $"({r["state"]})", $"{r["generation"]:N0}",
                    $"{r["rules"]:N0}", $"{r["prefixes"]:N0}", (string)r["loaded_at"]!, (string)r["rules_file"]!, ((string)r["digest"]!)[..12]]);
            }
            t.Write(stdout);
            foreach (var r in rows)
            {
                if ((string)r["state"]! == "defunct")
                {
                    stdout.WriteLine($"{r["interface"]}: nothing filters: fw's link lost the interface (deleted, or a detach was killed); " +
                        $"`fwctl attach {r["interface"]} --rules FILE` attaches it again");
                }
                if (r["pending_confirm"] is Dictionary<string, object?> p)
                {
                    stdout.WriteLine($"{r["interface"]}: generation {p["generation"]} is unconfirmed: generation {p["reverts_to_generation"]} " +
                        $"comes back at {p["deadline"]} unless `fwctl confirm {r["interface"]}` runs before");
                }
            }
            return FwctlApp.ExitOk;
        });
    }
}
