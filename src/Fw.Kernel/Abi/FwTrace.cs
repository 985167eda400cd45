using System.Runtime.InteropServices;

namespace Fw.Kernel;

/// <summary>struct fw_trace (fw_trace_out): the last verdict of a traced run and its cause, and the state the frame had with its flow.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FwTrace
{
    public uint Verdict;
    public uint Reason;
    public uint Rule;
    public uint Seq;
    public uint CtState;
    public uint Pad;
    public FwCtKey CtKey;

    /// <summary>Bit j: the source is in the live set of fw_sets slot <see cref="FwSets.SrcSlot"/> + j.</summary>
    public uint SrcSets;

    /// <summary>Bit j: the destination is in the set of slot <see cref="FwSets.DstSlot"/> + j.</summary>
    public uint DstSets;

    /// <summary>Limit rules that matched all else but not their limit, before the verdict.</summary>
    public uint LimitWithin;

    /// <summary>1: the deciding rule has a limit (it matched over it, or within a quota).</summary>
    public uint LimitRule;
}
