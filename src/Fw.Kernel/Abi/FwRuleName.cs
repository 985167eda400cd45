using System.Runtime.InteropServices;
using Fw.Rules;

namespace Fw.Kernel;

/// <summary>fw_rule_names value: rule N's name, NUL-terminated.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct FwRuleName
{
    public fixed byte Name[FwLimits.MaxName];

    public static FwRuleName From(string name)
    {
        var v = default(FwRuleName);
        var bytes = System.Text.Encoding.UTF8.GetBytes(name);
        var dst = new Span<byte>(v.Name, FwLimits.MaxName - 1);
        bytes.AsSpan(0, Math.Min(bytes.Length, dst.Length)).CopyTo(dst);
        return v;
    }

    public override string ToString()
    {
        fixed (byte* p = Name)
            return Marshal.PtrToStringUTF8((nint)p) ?? "";
    }
}
