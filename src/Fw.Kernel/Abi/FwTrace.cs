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
}
