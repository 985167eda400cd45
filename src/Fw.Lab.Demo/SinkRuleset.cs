using Fw.Rules;

namespace Fw.Lab.Demo;

/// <summary>
/// A copy of the rules file with one more rule at the end, a redirect into the lab's sink, in a temporary folder of
/// its own with copies of the set files the rules read (set files are read from the rules file's folder only). The
/// sink's interface exists only in the lab's fw namespace, and a redirect target must exist where a ruleset is
/// checked, so the rules file itself (checked on any host: tests/demo, the tests) cannot name it.
/// </summary>
internal sealed class SinkRuleset : IDisposable
{
    public const string RuleName = "to-sink";

    private SinkRuleset(string folder, string path, string rule)
    {
        Folder = folder;
        RulesFile = path;
        Rule = rule;
    }

    /// <summary>The temporary folder, removed by <see cref="Dispose"/>.</summary>
    public string Folder { get; }

    /// <summary>The copy with the rule added.</summary>
    public string RulesFile { get; }

    /// <summary>The rule added, as written in the copy.</summary>
    public string Rule { get; }

    /// <summary>The redirect rule: RDP and VNC probes go to <paramref name="sinkIf"/>, where a honeypot would listen.</summary>
    public static string RuleText(string sinkIf) => $"""
          - name: {RuleName}
            proto: tcp
            dport: [3389, 5900]
            action: redirect
            to: {sinkIf}
        """;

    /// <summary>Writes the copy of <paramref name="rules"/> with the rule added; throws if the rule does not land last.</summary>
    public static SinkRuleset Write(string rules, string sinkIf)
    {
        var original = RulesLoader.Load(rules);
        if (!original.Ok)
            throw new InvalidOperationException($"{rules}: {original.Errors.FirstOrDefault()?.Message ?? "does not load"}");
        var dir = Directory.CreateTempSubdirectory("fw-demo-");
        try
        {
            string from = Path.GetDirectoryName(Path.GetFullPath(rules))!;
            foreach (var set in original.Ruleset!.Sets.Values.Where(s => s.File is not null))
            {
                string relative = Path.GetRelativePath(from, Path.GetFullPath(set.File!));
                if (relative.StartsWith("..", StringComparison.Ordinal) || Path.IsPathRooted(relative))
                    throw new InvalidOperationException($"{rules}: set '{set.Name}' reads {set.File}, outside the rules file's folder");
                string to = Path.Combine(dir.FullName, relative);
                Directory.CreateDirectory(Path.GetDirectoryName(to)!);
                File.Copy(set.File!, to);
            }

            string text = File.ReadAllText(rules);
            string rule = RuleText(sinkIf);
            string path = Path.Combine(dir.FullName, Path.GetFileName(rules));
            File.WriteAllText(path, text.TrimEnd('\n') + "\n\n" + rule + "\n");
            var copy = RulesLoader.Load(path);
            if (!copy.Ok || copy.Ruleset!.Rules.Count != original.Ruleset.Rules.Count + 1 || copy.Ruleset.Rules[^1].Name != RuleName)
            {
                throw new InvalidOperationException(
                    $"{rules}: the redirect rule cannot be added at the end (is 'rules:' the file's last key, a block list?)");
            }
            return new SinkRuleset(dir.FullName, path, rule);
        }
        catch
        {
            dir.Delete(recursive: true);
            throw;
        }
    }

    public void Dispose()
    {
        if (Directory.Exists(Folder))
            Directory.Delete(Folder, recursive: true);
    }
}
