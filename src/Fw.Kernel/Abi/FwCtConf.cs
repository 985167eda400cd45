using System.Runtime.InteropServices;

namespace Fw.Kernel;

/// <summary>struct fw_ct_conf (fw_ct_conf value): a generation's connection-tracking settings as loaded.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct FwCtConf
{
    public uint Enabled;
    public uint Max;
    public fixed uint Timeout[(int)FwCtPhase.Count];
}
