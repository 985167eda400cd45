using System.Runtime.InteropServices;
using Fw.Compiler;
using Fw.Kernel;
using Fw.Bpf;

namespace Fw.Tests.Kernel;

/// <summary>Every C# mirror of a shared struct has the size and field offsets of bpf/fw_common.h.</summary>
public class LayoutTests
{
    // C struct -> (C# type, C member name -> C# field name)
    public static TheoryData<string, Type, string[]> Mirrors => new()
    {
        { "fw_counter", typeof(FwCounter), ["packets:Packets", "bytes:Bytes"] },
        { "fw_rule", typeof(FwRule), ["action:Action", "ifindex:Ifindex", "stat_slot:StatSlot", "flags:Flags", "log_every:LogEvery",
            "add_set:AddSet", "limit_len4:LimitLen4", "limit_len6:LimitLen6", "pad:Pad", "add_timeout_ns:AddTimeoutNs", "limit_ns:LimitNs", "limit_tol_ns:LimitTolNs"] },
        { "fw_set_key", typeof(FwSetKey), ["prefixlen:PrefixLen", "family:Family", "addr:Addr"] },
        { "fw_set_val", typeof(FwSetVal), ["expires_ns:ExpiresNs", "added_ns:AddedNs", "prefixlen:PrefixLen", "pad:Pad"] },
        { "fw_set_conf", typeof(FwSetConf), ["name:Name", "timeout:Timeout", "max:Max", "fields:Fields", "set_class:SetClass"] },
        { "fw_limit_key", typeof(FwLimitKey), ["slot:Slot", "family:Family", "hi:Hi", "lo:Lo"] },
        { "fw_limit_val", typeof(FwLimitVal), ["tat_ns:TatNs"] },
        { "fw_log_rec", typeof(FwLogRec), ["ts_ns:TsNs", "cpu:Cpu", "ifindex:Ifindex", "len:Len", "caplen:Caplen", "verdict:Verdict", "reason:Reason", "slot:Slot", "rule:Rule", "data:"] },
        { "fw_pop_node", typeof(FwPopNode), ["vector:Vector", "leafvec:LeafVec", "base0:Base0", "base1:Base1"] },
        { "fw_pop_tail4", typeof(FwPopTail4), ["addr:Addr", "len:Len", "cls:Cls", "dflt:Dflt"] },
        { "fw_pop_tail6", typeof(FwPopTail6), ["hi:Hi", "lo:Lo", "len:Len", "cls:Cls", "dflt:Dflt", "pad:Pad"] },
        { "fw_rule_name", typeof(FwRuleName), ["name:Name"] },
        { "fw_ct_key", typeof(FwCtKey), ["lo_hi:LoHi", "lo_lo:LoLo", "hi_hi:HiHi", "hi_lo:HiLo", "lo_port:LoPort", "hi_port:HiPort", "proto:Proto", "is_ipv6:IsIpv6", "pad:Pad"] },
        { "fw_ct_entry", typeof(FwCtEntry), ["last_seen:LastSeen", "origin:Origin", "phase:Phase", "starter_lo:StarterLo", "pad:Pad"] },
        { "fw_trace", typeof(FwTrace), ["verdict:Verdict", "reason:Reason", "rule:Rule", "seq:Seq", "ct_state:CtState", "pad:Pad", "ct_key:CtKey",
            "src_sets:SrcSets", "dst_sets:DstSets", "limit_within:LimitWithin", "limit_rule:LimitRule"] },
        { "fw_ct_conf", typeof(FwCtConf), ["enabled:Enabled", "max:Max", "timeout:Timeout"] },
        { "fw_meta", typeof(FwMeta), ["generation:Generation", "loaded_ns:LoadedNs", "rules:Rules", "prefixes:Prefixes",
            "words:Words", "fields:Fields", "classes:Classes", "xdp_mode:XdpMode", "default_action:DefaultAction",
            "malformed_action:MalformedAction", "non_ip_action:NonIpAction", "pad:Pad", "pad2:Pad2", "digest:Digest", "file:File"] },
    };

    [Theory]
    [MemberData(nameof(Mirrors))]
    public void MirrorMatchesBtf(string cName, Type mirror, string[] fields)
    {
        var layout = BtfLayout.Read(Classifier.DefaultObjectPath(cName == "fw_meta" ? "fw_dispatch.bpf.o" : "fw.bpf.o"), [cName])[cName];
        Assert.Equal(layout.Size, Marshal.SizeOf(mirror));
        Assert.Equal(fields.Length, layout.Members.Count);
        foreach (string pair in fields)
        {
            var (c, cs) = (pair.Split(':')[0], pair.Split(':')[1]);
            var member = Assert.Single(layout.Members, m => m.Name == c);
            // A flexible array member (no C# field): it starts where the mirror ends.
            Assert.Equal(member.Offset, cs.Length == 0 ? Marshal.SizeOf(mirror) : (int)Marshal.OffsetOf(mirror, cs));
        }
    }

    // Poptrie and port table pages are written as raw bytes: each C page must be exactly what the loader pads to.
    public static TheoryData<string, int> Pages => new()
    {
        { "fw_pop_node_page", FwPop.NodePage * Marshal.SizeOf<FwPopNode>() },
        { "fw_pop_leaf_page", FwPop.LeafPage * sizeof(uint) },
        { "fw_pop_dir", (1 << FwPop.DirectBits) * sizeof(uint) },
        { "fw_pop_tail4_page", FwPop.TailPage * Marshal.SizeOf<FwPopTail4>() },
        { "fw_pop_tail6_page", FwPop.TailPage * Marshal.SizeOf<FwPopTail6>() },
        { "fw_port_dir", FwPort.DirEntries * sizeof(uint) },
        { "fw_port_page", FwPort.Page * sizeof(uint) },
    };

    [Theory]
    [MemberData(nameof(Pages))]
    public void PoptriePageIsWhatTheLoaderWrites(string cName, int bytes)
    {
        Assert.Equal(bytes, BtfLayout.Read(Classifier.DefaultObjectPath(), [cName])[cName].Size);
    }
}
