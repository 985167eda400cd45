using Fw.Cli;

namespace Fw.Tests.Cli;

/// <summary>fwctl run in this process with its output captured, as the CLI tests read it (`using static`).</summary>
internal static class Fwctl
{
    /// <summary>Runs fwctl with <paramref name="args"/>: its exit code, stdout and stderr (line ends as \n).</summary>
    public static (int Exit, string Out, string Err) Run(params string[] args)
    {
        var (o, e) = (new StringWriter(), new StringWriter());
        int rc = FwctlApp.Run(args, o, e);
        return (rc, o.ToString().ReplaceLineEndings("\n"), e.ToString().ReplaceLineEndings("\n"));
    }
}
