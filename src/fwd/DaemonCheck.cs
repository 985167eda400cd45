using Fw.Compiler;
using Fw.Kernel;
using Fw.Rules;

namespace Fw.Daemon;

/// <summary>
/// What fwd checks before it touches the kernel: everything `fwctl check` checks (the same diagnostics),
/// and, because fwd attaches where the file says, that `interfaces:` names at least one interface and
/// that each exists on this host.
/// </summary>
public static class DaemonCheck
{
    public static CheckResult Check(string path)
    {
        var check = RulesCheck.Check(path, Classifier.ResolveInterface);
        if (check.Ruleset is not { } rs)
            return check;
        var extra = new List<Diagnostic>();
        bool listed = rs.KeyPos.ContainsKey("interfaces");
        var at = rs.PosOf("interfaces");
        int length = listed ? "interfaces".Length : 0;
        if (rs.Interfaces.Count == 0)
        {
            extra.Add(new Diagnostic(Severity.Error, at, listed
                ? "fwd attaches the ruleset to the interfaces listed here, and none is"
                : "no 'interfaces:' list: fwd attaches the ruleset to the interfaces it names, e.g. interfaces: [eth0]", length));
        }
        foreach (string iface in rs.Interfaces)
        {
            if (!Exists(iface))
            {
                var pos = listed ? Find(at, iface) : null;
                extra.Add(new Diagnostic(Severity.Error, pos ?? at, $"interface '{iface}' does not exist on this host",
                    pos is null ? length : iface.Length));
            }
        }
        return extra.Count == 0 ? check : new CheckResult(rs, null, [.. check.Diagnostics, .. extra]);
    }

    /// <summary>The files whose change can change the ruleset: the rules file and its set files.</summary>
    public static IEnumerable<string> Inputs(string path, Ruleset? rs) =>
        new[] { path }.Concat(rs?.Sets.Values.Select(s => s.File).OfType<string>() ?? []);

    /// <summary>
    /// Where a name stands in the `interfaces:` list (the ruleset keeps the key's position only): the first
    /// whole-word occurrence from the key to the next top-level key.
    /// </summary>
    private static SourcePos? Find(SourcePos key, string name)
    {
        try
        {
            var word = new System.Text.RegularExpressions.Regex($@"(?<![\w.:@-]){System.Text.RegularExpressions.Regex.Escape(name)}(?![\w.:@-])");
            int n = 0;
            foreach (string line in File.ReadLines(key.File).Skip(key.Line - 1).Take(1000))
            {
                int from = n == 0 ? Math.Min(line.Length, key.Column - 1 + "interfaces".Length) : 0;
                if (n > 0 && line.Length > 0 && char.IsLetter(line[0]))
                    break;
                string code = line.Split('#')[0];
                var m = word.Match(code, Math.Min(from, code.Length));
                if (m.Success)
                    return key with { Line = key.Line + n, Column = m.Index + 1 };
                n++;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
        return null;
    }

    private static bool Exists(string iface)
    {
        try
        {
            return Firewall.Ifindex(iface) > 0;
        }
        catch (BpfException)
        {
            return false;
        }
    }
}
