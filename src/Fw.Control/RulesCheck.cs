using Fw.Bpf;
using Fw.Compiler;
using Fw.Rules;

namespace Fw.Control;

/// <summary>Checks a rules file: read (Fw.Rules), resolve against this host, compile (Fw.Compiler). Touches no BPF object.</summary>
public static class RulesCheck
{
    /// <param name="resolveInterface">ifindex of an interface name, 0 when there is none; default this host's.</param>
    public static CheckResult Check(string path, CheckScope scope = CheckScope.Rules, Func<string, int>? resolveInterface = null) =>
        Check(RulesLoader.Load(path), path, scope, resolveInterface);

    /// <summary>Checks rules already read (from text, in tests and benchmarks).</summary>
    public static CheckResult Check(LoadResult loaded, Func<string, int>? resolveInterface = null) =>
        Check(loaded, loaded.Ruleset?.File ?? loaded.Diagnostics.FirstOrDefault()?.Pos.File ?? "", CheckScope.Rules, resolveInterface);

    private static CheckResult Check(LoadResult loaded, string path, CheckScope scope, Func<string, int>? resolveInterface)
    {
        var resolve = resolveInterface ?? NetInterface.TryIndex;
        var diagnostics = loaded.Diagnostics.ToList();
        if (!loaded.Ok)
            return new CheckResult(path, null, null, diagnostics);
        var rs = loaded.Ruleset!;
        foreach (var rule in rs.Rules.Where(r => r.Action == RuleAction.Redirect))
        {
            if (!Exists(resolve, rule.To!))
            {
                diagnostics.Add(new Diagnostic(Severity.Error, rule.PosOf("to"),
                    $"redirect target '{rule.To}' is not an interface on this host", "to".Length));
            }
        }
        MapImage? image = null;
        try
        {
            image = RulesetCompiler.Compile(rs);
        }
        catch (RulesException e)
        {
            diagnostics.AddRange(e.Diagnostics);
        }
        if (scope == CheckScope.Daemon)
            CheckInterfaces(rs, resolve, diagnostics);
        if (diagnostics.Any(d => d.Severity == Severity.Error))
            return new CheckResult(path, rs, null, diagnostics);
        return new CheckResult(path, rs, image, diagnostics);
    }

    /// <summary>The files whose change can change the ruleset: the rules file and its set files.</summary>
    public static IEnumerable<string> Inputs(string path, Ruleset? rs) =>
        new[] { path }.Concat(rs?.Sets.Values.Select(s => s.File).OfType<string>() ?? []);

    private static void CheckInterfaces(Ruleset rs, Func<string, int> resolve, List<Diagnostic> diagnostics)
    {
        bool listed = rs.KeyPos.ContainsKey("interfaces");
        var at = rs.PosOf("interfaces");
        int length = listed ? "interfaces".Length : 0;
        if (rs.Interfaces.Count == 0)
        {
            diagnostics.Add(new Diagnostic(Severity.Error, at, listed
                ? "fwd attaches the ruleset to the interfaces listed here, and none is"
                : "no 'interfaces:' list: fwd attaches the ruleset to the interfaces it names, e.g. interfaces: [eth0]", length));
        }
        foreach (string iface in rs.Interfaces)
        {
            if (!Exists(resolve, iface))
            {
                bool known = rs.InterfacePos.TryGetValue(iface, out var pos);
                diagnostics.Add(new Diagnostic(Severity.Error, known ? pos : at, $"interface '{iface}' does not exist on this host",
                    known ? iface.Length : length));
            }
        }
    }

    private static bool Exists(Func<string, int> resolve, string iface)
    {
        try
        {
            return resolve(iface) > 0;
        }
        catch (BpfException)
        {
            return false;
        }
    }
}
