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
                using var s = InterfaceState.Open(iface);
                var m = s.Meta;
                uint progId = 0;
                try
                {
                    progId = Firewall.AttachedProgramId(iface);
                }
                catch (BpfException)
                {
                    // The interface is gone; its pins remain until detach.
                }
                rows.Add(new Dictionary<string, object?>
                {
                    ["interface"] = iface,
                    ["mode"] = Format.Mode((XdpMode)m.XdpMode),
                    ["attached"] = progId != 0,
                    ["program_id"] = progId,
                    ["generation"] = m.Generation,
                    ["rules_file"] = m.FileName,
                    ["digest"] = m.DigestHex,
                    ["rules"] = m.Rules,
                    ["prefixes"] = m.Prefixes,
                    ["loaded_at"] = DateTimeOffset.FromUnixTimeMilliseconds((long)(m.LoadedNs / 1_000_000)).ToString("yyyy-MM-ddTHH:mm:ssZ"),
                });
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
                t.Add([(string)r["interface"]!, (bool)r["attached"]! ? (string)r["mode"]! : "(gone)", $"{r["generation"]:N0}",
                    $"{r["rules"]:N0}", $"{r["prefixes"]:N0}", (string)r["loaded_at"]!, (string)r["rules_file"]!, ((string)r["digest"]!)[..12]]);
            }
            t.Write(stdout);
            return FwctlApp.ExitOk;
        });
    }
}
