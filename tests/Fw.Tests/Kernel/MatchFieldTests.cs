using System.Text.RegularExpressions;
using Fw.Bpf;
using Fw.Compiler;
using Fw.Kernel;

namespace Fw.Tests.Kernel;

/// <summary>
/// The match-field list (<see cref="MatchFields"/>) is the one C# list of fields: it agrees with enum fw_field in
/// bpf/fw_common.h and with the maps of the built classifier, and every classifier map is pinned or shared.
/// </summary>
public partial class MatchFieldTests
{
    private static readonly string Header = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "bpf", "fw_common.h"));

    [GeneratedRegex(@"^\s+FW_FIELD_(\w+)\s*=\s*1 << (\d+),", RegexOptions.Multiline)]
    private static partial Regex CField();

    [Fact]
    public void EveryFieldOnceWithItsCBit()
    {
        var c = CField().Matches(Header).ToDictionary(m => m.Groups[1].Value.ToLowerInvariant(), m => 1u << int.Parse(m.Groups[2].Value));
        Assert.Equal(c.Keys.Order(), MatchFields.All.Select(f => f.Name).Order());
        foreach (var f in MatchFields.All)
            Assert.Equal(c[f.Name], (uint)f.Mask);
        var masks = Enum.GetValues<FieldMask>().Where(m => m != FieldMask.None).ToList();
        Assert.Equal(masks.Order(), MatchFields.All.Select(f => f.Mask).Order());
    }

    [Fact]
    public void EveryClassifierMapIsPinnedOrShared()
    {
        var maps = BtfLayout.SectionVariables(Classifier.DefaultObjectPath(), ".maps");
        string[] shared = ["fw_stats", Classifier.ConntrackMap, Classifier.LogMap, Classifier.LogBucketMap, Classifier.LimitMap];
        // Each field's maps exist in the object under the names the list derives.
        foreach (var f in MatchFields.All)
            Assert.All(f.Maps, m => Assert.Contains(m, maps));
        // Every map is pinned with its generation, shared by all generations or the object's own scratch, and nothing pinned is missing.
        Assert.Equal(maps.Except(shared).Except(PinLayout.ScratchMaps).Order(), PinLayout.GenerationMaps.Order());
        Assert.All(PinLayout.ScratchMaps, m => Assert.Contains(m, maps));
        Assert.Equal(PinLayout.GenerationMaps.Length, PinLayout.GenerationMaps.Distinct().Count());
    }
}
