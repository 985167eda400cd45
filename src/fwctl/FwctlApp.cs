using System.CommandLine;

namespace Fw.Cli;

/// <summary>fwctl's commands. Output goes to the writers given, so tests read exactly what users see.</summary>
public static class FwctlApp
{
    public const int ExitOk = 0;
    public const int ExitFailure = 1;
    public const int ExitUsage = 2;

    internal static readonly Option<bool> JsonOption = new("--json", "-j")
    {
        Description = "Print JSON on stdout (errors too, as {\"error\": ...})",
    };

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr) =>
        Run(args, stdout, stderr, Console.OpenStandardInput);

    /// <param name="stdin">Opens what `-` reads (fwctl set sync --file -).</param>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr, Func<Stream> stdin)
    {
        var root = new RootCommand(
            "fwctl: control the fw XDP firewall.\n" +
            "Exit codes: 0 ok, 1 failure, 2 usage error or invalid rules.")
        {
            CheckCommand.Create(stdout, stderr),
            AttachCommands.CreateAttach(stdout, stderr),
            AttachCommands.CreateReload(stdout, stderr),
            AttachCommands.CreateDetach(stdout, stderr),
            ConfirmCommands.CreateConfirm(stdout, stderr),
            ConfirmCommands.CreateRevert(stdout, stderr),
            ConfirmCommands.CreateTimer(),
            StatsCommand.Create(stdout, stderr),
            StatusCommand.Create(stdout, stderr),
            ConntrackCommand.Create(stdout, stderr),
            SetCommand.Create(stdout, stderr, stdin),
            LogCommand.Create(stdout, stderr),
            TestCommand.Create(stdout, stderr),
        };
        var parse = root.Parse(args);
        var config = new InvocationConfiguration { Output = stdout, Error = stderr };
        if (parse.Errors.Count > 0)
        {
            foreach (var e in parse.Errors)
                stderr.WriteLine($"fwctl: {Fw.Rules.Printable.Clean(e.Message)}");
            stderr.WriteLine("Try 'fwctl --help'.");
            if (args.Contains("--json") || args.Contains("-j"))
                Output.WriteJson(stdout, new Dictionary<string, object?> { ["error"] = Fw.Rules.Printable.Clean(parse.Errors[0].Message) });
            return ExitUsage;
        }
        return parse.Invoke(config);
    }
}
