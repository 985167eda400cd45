using Fw.Compiler;
using Fw.Rules;

namespace Fw.Tests.Compiler;

/// <summary>
/// The two-level port tables without the kernel: every port (and the absent entry) reads back the class
/// of the flat array it was packed from; uniform pages take no page, equal pages are stored once.
/// </summary>
public class PortTableTests
{
    private static uint[] Flat(uint fill) => Enumerable.Repeat(fill, FwLimits.PortAbsent + 1).ToArray();

    private static void AssertSameClasses(uint[] flat, PortTable table)
    {
        for (int port = 0; port <= FwLimits.PortAbsent; port++)
        {
            if (table.Lookup(port) != flat[port])
                Assert.Fail($"port {port}: table says class {table.Lookup(port)}, the array {flat[port]}");
        }
    }

    [Fact]
    public void OneClassEverywhereNeedsNoPage()
    {
        var flat = Flat(7);
        var t = PortTable.Pack(flat);
        Assert.Equal(0, t.PageCount);
        Assert.Equal(FwPort.DirEntries, t.Directory.Length);
        Assert.All(t.Directory, e => Assert.Equal(FwPort.Uniform | 7u, e));
        AssertSameClasses(flat, t);
    }

    [Fact]
    public void SinglePortsAndRangeEdgesGetPagesTheRestStaysUniform()
    {
        var flat = Flat(1);
        flat[0] = 2;                    // port 0 alone
        flat[443] = 3;                  // one port in page 1
        flat[65535] = 4;                // the last port
        for (int p = 1024; p < 2048; p++)   // a range of whole pages: uniform
            flat[p] = 5;
        for (int p = 2900; p <= 3000; p++)  // a range inside one page (2816-3071)
            flat[p] = 6;
        flat[FwLimits.PortAbsent] = 9;  // absent: its own entry
        var t = PortTable.Pack(flat);
        Assert.Equal(4, t.PageCount);   // pages 0, 1, 11 (2900-3000) and 255
        Assert.Equal(FwPort.Uniform | 5u, t.Directory[1024 >> FwPort.PageShift]);
        Assert.Equal(FwPort.Uniform | 9u, t.Directory[FwPort.DirEntries - 1]);
        AssertSameClasses(flat, t);
    }

    [Fact]
    public void EqualPagesAreStoredOnce()
    {
        var flat = Flat(1);
        // The same pattern (every 8th port) in every page: one page shared by all 256 entries.
        for (int p = 0; p < FwLimits.PortAbsent; p += 8)
            flat[p] = 2;
        var t = PortTable.Pack(flat);
        Assert.Equal(1, t.PageCount);
        Assert.All(t.Directory[..^1], e => Assert.Equal(0u, e));
        AssertSameClasses(flat, t);
    }

    [Fact]
    public void RandomTablesReadBackExactly()
    {
        var rng = new Random(5);
        for (int round = 0; round < 20; round++)
        {
            var flat = Flat((uint)rng.Next(100));
            for (int k = rng.Next(1, 300); k > 0; k--)
            {
                int lo = rng.Next(FwLimits.PortAbsent), hi = Math.Min(FwLimits.PortAbsent - 1, lo + rng.Next(rng.Next(2) == 0 ? 4 : 5000));
                uint cls = (uint)rng.Next(1000);
                for (int p = lo; p <= hi; p++)
                    flat[p] = cls;
            }
            flat[FwLimits.PortAbsent] = (uint)rng.Next(1000);
            AssertSameClasses(flat, PortTable.Pack(flat));
        }
    }

    [Fact]
    public void CompiledRulesetsPackToTheirClasses()
    {
        var at = new SourcePos("t.yaml", 1, 1);
        Rule R(int i, byte proto, PortRange[]? sport = null, PortRange[]? dport = null) => new()
        {
            Index = i, Name = $"rule-{i + 1}", Pos = at, Action = RuleAction.Drop, Proto = [proto], Sport = sport, Dport = dport,
        };
        var rs = new Ruleset
        {
            File = "t.yaml",
            Rules = [R(0, 6, dport: [new(80, 80), new(443, 443), new(8000, 8999)]), R(1, 17, sport: [new(53, 53)]), R(2, 17, dport: [new(32768, 65535)])],
        };
        var img = RulesetCompiler.Compile(rs);
        AssertSameClasses(img.Dport!, img.DportTable!);
        AssertSameClasses(img.Sport!, img.SportTable!);
        // dport: pages 0 (80), 1 (443), 31 and 35 (8000-8999 ends) differ; the high range is whole pages.
        Assert.Equal(4, img.DportTable!.PageCount);
        Assert.Equal(1, img.SportTable!.PageCount);
    }

    [Fact]
    public void RejectsAWrongSizeAndClassesThatDoNotFit()
    {
        Assert.Throws<ArgumentException>(() => PortTable.Pack(new uint[100]));
        var flat = Flat(FwPort.Uniform);
        Assert.Throws<ArgumentException>(() => PortTable.Pack(flat));
    }
}
