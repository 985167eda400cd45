using System.Text.RegularExpressions;
using Fw.Compiler;
using Fw.Kernel;
using Fw.Rules;

namespace Fw.Tests.Kernel;

/// <summary>The C# constants equal the #defines and enum values of bpf/fw_common.h.</summary>
public partial class ConstantsTests
{
    private static readonly string Header = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "bpf", "fw_common.h"));

    [GeneratedRegex(@"^#define\s+(FW_\w+)\s+(0x[0-9a-fA-F]+|\d+|\(1 << \w+\)|FW_\w+)u?(?!\w)", RegexOptions.Multiline)]
    private static partial Regex Define();

    [GeneratedRegex(@"^\s+(FW_\w+)\s*=\s*([^,]+),", RegexOptions.Multiline)]
    private static partial Regex EnumValue();

    private static long Value(string name)
    {
        foreach (Match m in Define().Matches(Header))
        {
            if (m.Groups[1].Value != name)
                continue;
            string v = m.Groups[2].Value;
            if (v.StartsWith("0x", StringComparison.Ordinal))
                return Convert.ToInt64(v[2..], 16);
            var shift = Regex.Match(v, @"^\(1 << (\w+)\)$");
            if (shift.Success)
                return 1L << (int)Value(shift.Groups[1].Value);
            return long.TryParse(v, out long n) ? n : Value(v);
        }
        foreach (Match m in EnumValue().Matches(Header))
        {
            if (m.Groups[1].Value != name)
                continue;
            string v = m.Groups[2].Value.Trim();
            var shift = Regex.Match(v, @"^1 << (\d+)$");
            if (shift.Success)
                return 1L << int.Parse(shift.Groups[1].Value);
            return long.TryParse(v, out long n) ? n : Value(v);
        }
        throw new KeyNotFoundException(name);
    }

    [Fact]
    public void LimitsMatch()
    {
        Assert.Equal(FwLimits.MaxRules, Value("FW_MAX_RULES"));
        Assert.Equal(FwLimits.WordBits, Value("FW_WORD_BITS"));
        Assert.Equal(FwLimits.MaxPrefixes, Value("FW_MAX_PREFIXES"));
        Assert.Equal(FwLimits.MaxClasses, Value("FW_MAX_CLASSES"));
        Assert.Equal(FwLimits.MaxName, Value("FW_MAX_NAME"));
        Assert.Equal(FwLimits.PortAbsent, Value("FW_PORT_ABSENT"));
        Assert.Equal(FwLimits.ByteAbsent, Value("FW_BYTE_ABSENT"));
    }

    [Fact]
    public void PortTableConstantsMatch()
    {
        Assert.Equal(FwPort.PageShift, Value("FW_PORT_PAGE_SHIFT"));
        Assert.Equal(FwPort.Page, Value("FW_PORT_PAGE"));
        Assert.Equal(FwPort.DirEntries, Value("FW_PORT_DIR"));
        Assert.Equal(FwPort.Uniform, Value("FW_PORT_UNIFORM"));
        // The directory's last entry is the absent port's: every key of the flat array has one.
        Assert.Equal(FwLimits.PortAbsent, (FwPort.DirEntries - 1) << FwPort.PageShift);
    }

    [Fact]
    public void PoptrieConstantsMatch()
    {
        Assert.Equal(FwPop.DirectBits, Value("FW_POP_DIRECT_BITS"));
        Assert.Equal(FwPop.Stride, Value("FW_POP_STRIDE"));
        Assert.Equal(FwPop.Depth4, Value("FW_POP_DEPTH4"));
        Assert.Equal(FwPop.Depth6, Value("FW_POP_DEPTH6"));
        Assert.Equal(FwPop.Leaf, Value("FW_POP_LEAF"));
        Assert.Equal(FwPop.Tail, Value("FW_POP_TAIL"));
        Assert.Equal(FwPop.Kind, Value("FW_POP_KIND"));
        Assert.Equal(FwPop.Value, Value("FW_POP_VALUE"));
        Assert.Equal(FwPop.NoMatch, Value("FW_POP_NO_MATCH"));
        Assert.Equal(FwPop.NodePageShift, Value("FW_POP_NODE_PAGE_SHIFT"));
        Assert.Equal(FwPop.LeafPageShift, Value("FW_POP_LEAF_PAGE_SHIFT"));
        Assert.Equal(FwPop.TailPageShift, Value("FW_POP_TAIL_PAGE_SHIFT"));
        Assert.Equal(FwPop.NodePage, Value("FW_POP_NODE_PAGE"));
        Assert.Equal(FwPop.LeafPage, Value("FW_POP_LEAF_PAGE"));
        Assert.Equal(FwPop.TailPage, Value("FW_POP_TAIL_PAGE"));
        Assert.Equal(FwPop.MaxNodes, Value("FW_POP_MAX_NODES"));
        Assert.Equal(FwPop.MaxLeaves, Value("FW_POP_MAX_LEAVES"));
        Assert.Equal(FwPop.MaxTails, Value("FW_POP_MAX_TAILS"));
        // The loop bounds cover every address bit: the last node's chunk reaches the family's width.
        Assert.True(FwPop.DirectBits + FwPop.Stride * FwPop.Depth4 >= 32);
        Assert.True(FwPop.DirectBits + FwPop.Stride * FwPop.Depth6 >= 128);
    }

    [Fact]
    public void LiveSetConstantsMatch()
    {
        Assert.Equal(FwSets.Slots, Value("FW_SET_SLOTS"));
        Assert.Equal(FwSets.FieldSlots, Value("FW_SET_FIELD_SLOTS"));
        Assert.Equal(FwSets.SrcSlot, Value("FW_SET_SRC_SLOT"));
        Assert.Equal(FwSets.DstSlot, Value("FW_SET_DST_SLOT"));
        Assert.Equal(FwSets.KeyBits, Value("FW_SET_KEY_BITS"));
        Assert.Equal(FwSets.Nest, Value("FW_SET_NEST"));
        Assert.Equal(FwSets.LimitEntries, Value("FW_LIMIT_ENTRIES"));
        Assert.Equal(FwSets.MaxLimits, Value("FW_MAX_LIMITS"));
        Assert.Equal(FwSets.OtherSlot, FwSets.DstSlot + FwSets.FieldSlots);
        Assert.True(FwSets.OtherSlot + 16 <= FwSets.Slots);
        // The reader's bounds are the slots': what it accepts always compiles and loads.
        Assert.Equal(FwLimits.MaxLimits, FwSets.MaxLimits);
        Assert.Equal(FwLimits.LiveSetsPerField, FwSets.FieldSlots);
        Assert.Equal(FwLimits.LiveSetsOther, FwSets.Slots - 2 * FwSets.FieldSlots);
    }

    [Fact]
    public void EnumsMatch()
    {
        foreach (var slot in Enum.GetValues<FwStatSlot>())
        {
            string c = "FW_STAT_" + Regex.Replace(slot.ToString(), "(?<=[a-z])([A-Z])", "_$1").ToUpperInvariant();
            Assert.Equal((long)slot, Value(c));
        }
        foreach (var reason in Enum.GetValues<FwReason>())
        {
            string c = "FW_REASON_" + Regex.Replace(reason.ToString(), "(?<=[a-z])([A-Z])", "_$1").ToUpperInvariant();
            Assert.Equal((long)reason, Value(c));
        }
        foreach (var field in Enum.GetValues<FieldMask>().Where(f => f != FieldMask.None))
        {
            string c = "FW_FIELD_" + Regex.Replace(field.ToString(), "(?<=[a-z])([A-Z])", "_$1").ToUpperInvariant();
            Assert.Equal((long)field, Value(c));
        }
        foreach (var phase in Enum.GetValues<FwCtPhase>().Where(p => p != FwCtPhase.Count))
        {
            string c = "FW_CT_" + Regex.Replace(phase.ToString(), "(?<=[a-z])([A-Z])", "_$1").ToUpperInvariant();
            Assert.Equal((long)phase, Value(c));
            // conntrack.timeouts keys name the phases, in enum order (fw_ct_conf.timeout is indexed by phase).
            Assert.Equal(Regex.Replace(phase.ToString(), "(?<=[a-z])([A-Z])", "_$1").ToLowerInvariant(), ConntrackSettings.TimeoutKeys[(int)phase]);
        }
        Assert.Equal((long)FwCtPhase.Count, Value("FW_CT_ICMP") + 1);   // FW_CT_PHASES follows the last phase
        Assert.Equal((int)FwCtPhase.Count, ConntrackSettings.TimeoutKeys.Length);
        Assert.Equal((long)FwCtOrigin.Egress, Value("FW_CT_EGRESS"));
        Assert.Equal((long)FwCtOrigin.Tracked, Value("FW_CT_TRACKED"));
        Assert.Equal((long)Fw.Rules.RuleAction.Redirect, Value("FW_ACTION_REDIRECT"));
        Assert.Equal(FwRule.Track, (uint)Value("FW_RULE_TRACK"));
        Assert.Equal(FwRule.AddTo, (uint)Value("FW_RULE_ADD_TO"));
        Assert.Equal(FwRule.Limit, (uint)Value("FW_RULE_LIMIT"));
        Assert.Equal(FwRule.Quota, (uint)Value("FW_RULE_QUOTA"));
        Assert.Equal(FwRule.LimitPerRule, (uint)Value("FW_RULE_LIMIT_RULE"));
        foreach (var counter in Enum.GetValues<FwSetCounter>())
        {
            string c = counter == FwSetCounter.Count ? "FW_SET_COUNTERS"
                : "FW_SET_" + Regex.Replace(counter.ToString(), "(?<=[a-z])([A-Z])", "_$1").ToUpperInvariant();
            Assert.Equal((long)counter, Value(c));
        }
        // ConnState's bit v is enum fw_ct_state v (the compiler's state classes).
        Assert.Equal(1 << (int)Value("FW_CT_NEW"), (int)Fw.Rules.ConnState.New);
        Assert.Equal(1 << (int)Value("FW_CT_ESTABLISHED"), (int)Fw.Rules.ConnState.Established);
        Assert.Equal(1 << (int)Value("FW_CT_RELATED"), (int)Fw.Rules.ConnState.Related);
        Assert.Equal((long)Fw.Rules.RuleAction.Drop, Value("FW_ACTION_DROP"));
    }
}
