using Fw.Kernel;
using Fw.Rules;
using static Fw.Tests.Cli.Fwctl;

namespace Fw.Tests.Cli;

/// <summary>
/// Finding 1 of the hardening review: interface names reach paths only after the kernel's own check. `fwctl
/// detach ../../../../tmp/x` used to remove /tmp/x recursively and say "detached"; "" or "." would have removed
/// every interface's pins. Every command refuses such a name as a usage error (exit 2) and touches nothing.
/// </summary>
public sealed class InterfaceNameTests : IDisposable
{
    private readonly string _victim = Directory.CreateTempSubdirectory("fw-victim-").FullName;

    public void Dispose() => Directory.Delete(_victim, recursive: true);

    public static TheoryData<string> BadNames() =>
    [
        "", ".", "..", "../../../../tmp/x", "a/b", "fw0:1", "fw 0", "fw\t0", "a\u001b[2Jb", "sixteen-bytes-xx", "ab\u00e9cdefghijklmn",
    ];

    [Theory]
    [MemberData(nameof(BadNames))]
    public void EveryCommandRefusesTheNameAndTouchesNothing(string name)
    {
        string marker = Path.Combine(_victim, "keep");
        File.WriteAllText(marker, "x");
        string rules = Path.Combine(_victim, "rules.yaml");
        File.WriteAllText(rules, "rules:\n  - name: a\n    action: pass\n");
        // An attached interface whose pins `detach ""` or `detach .` would have removed with every other's.
        using var veth = new Fw.Tests.Kernel.TestVeth();
        Assert.Equal(0, Run("attach", veth.Name, "--rules", rules).Exit);
        var before = Snapshot(veth.Name);
        foreach (string[] args in new[]
        {
            new[] { "detach", name }, ["attach", name, "--rules", rules], ["reload", name, "--rules", rules],
            ["stats", name], ["test", name, "--packet", "udp 192.0.2.1:1 -> 192.0.2.2:2"], ["detach", name, "--json"],
        })
        {
            var (rc, stdout, stderr) = Run(args);
            Assert.True(rc == 2, $"fwctl {string.Join(' ', args)}: exit {rc}\n{stderr}");
            Assert.Contains("IFACE: ", stderr);
            Assert.DoesNotContain("\u001b", stderr);   // the name is quoted with its control bytes escaped
            if (args.Contains("--json"))
                Assert.Contains("\"error\"", stdout);
        }
        Assert.True(File.Exists(marker));
        Assert.Equal(before, Snapshot(veth.Name));
        Assert.True(Firewall.IsAttached(veth.Name));
    }

    [Fact]
    public void TheTraversalOfTheReportIsRefused()
    {
        // The reported case exactly: a directory reachable from /sys/fs/bpf/fw by "..".
        string rel = "../../../.." + _victim;
        var (rc, _, stderr) = Run("detach", rel);
        Assert.Equal(2, rc);
        Assert.True(Directory.Exists(_victim), stderr);
    }

    [Fact]
    public void TheKernelLayerRefusesTheNameToo()
    {
        // Defence in depth: a caller that skipped the CLI's check cannot build a path from the name either.
        Assert.Throws<ArgumentException>(() => PinLayout.Dir(".."));
        Assert.Throws<ArgumentException>(() => PinLayout.Dir(""));
        Assert.Throws<ArgumentException>(() => InterfaceLock.PathOf("../x"));
        Assert.Throws<ArgumentException>(() => Firewall.Detach("../../tmp"));
        Assert.Equal("/sys/fs/bpf/fw/fw0", PinLayout.Dir("fw0"));
        Assert.Null(InterfaceName.Problem("a-fifteen-byte1"));
    }

    private static string[] Snapshot(string iface) =>
        Directory.GetFileSystemEntries(PinLayout.Dir(iface), "*", SearchOption.AllDirectories).Order().ToArray();
}
