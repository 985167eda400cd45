namespace Fw.Lab.Demo;

/// <summary>
/// fw-demo [--fwctl PATH] [--rules FILE]: builds a lab (see <see cref="Lab"/>), attaches the rules to fw0 with
/// the real fwctl inside the lab's fw namespace, sends allowed and blocked traffic through it in both directions
/// and traffic for a redirect rule into the sink, and checks what happened to each (<see cref="Demo"/>); shows
/// <c>fwctl stats</c>, detaches and removes the lab, also on failure and Ctrl-C.
/// Exit codes: 0 everything went as the rules say, 1 otherwise, 2 usage.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        string? fwctl = null, rules = null;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--fwctl" when i + 1 < args.Length:
                    fwctl = args[++i];
                    break;
                case "--rules" when i + 1 < args.Length:
                    rules = args[++i];
                    break;
                default:
                    Console.Error.WriteLine("usage: fw-demo [--fwctl PATH] [--rules FILE]");
                    return 2;
            }
        }
        string root = RepoRoot();
        fwctl ??= Path.Combine(root, "src/fwctl/bin/Release/net10.0/fwctl");
        rules ??= Path.Combine(root, "rules/rules.yaml");
        if (!File.Exists(fwctl))
        {
            Console.Error.WriteLine($"fw demo: {fwctl} not found; build first (dotnet build firewall.sln -c Release)");
            return 1;
        }
        return new Demo(fwctl, rules, Console.Out).Run();
    }

    private static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "firewall.sln")))
                return d.FullName;
        }
        return Directory.GetCurrentDirectory();
    }
}
