using System.Runtime.InteropServices;

namespace Fw.Kernel;

// C# mirrors of bpf/fw_common.h. A test reads the BTF of the built object and proves that every
// size and offset here equals the C one. The Poptrie structs (FwPopNode, FwPopTail4, FwPopTail6)
// live with their builder in src/Fw.Compiler/Poptrie.cs: the compiler's image is written as is.

public enum FwStatSlot : uint
{
    Pass = 0,
    Drop = 1,
    Redirect = 2,
    Default = 3,
    Malformed = 4,
    NonIp = 5,
    NoRuleset = 6,
    RedirectErr = 7,
    RuleBase = 8,
}

public enum FwReason : uint
{
    Rule = 0,
    Default = 1,
    Malformed = 2,
    NonIp = 3,
    NoRuleset = 4,
}

public static class FwConst
{
    public const int StatSlots = (int)FwStatSlot.RuleBase + 2 * Compiler.FwLimits.MaxRules;
}

[StructLayout(LayoutKind.Sequential)]
public struct FwCounter
{
    public ulong Packets;
    public ulong Bytes;
}

[StructLayout(LayoutKind.Sequential)]
public struct FwRule
{
    public uint Action;
    public uint Ifindex;
    public uint StatSlot;
    public uint Pad;
}

[StructLayout(LayoutKind.Sequential)]
public unsafe struct FwRuleName
{
    public fixed byte Name[Compiler.FwLimits.MaxName];

    public static FwRuleName From(string name)
    {
        var v = default(FwRuleName);
        var bytes = System.Text.Encoding.UTF8.GetBytes(name);
        var dst = new Span<byte>(v.Name, Compiler.FwLimits.MaxName - 1);
        bytes.AsSpan(0, Math.Min(bytes.Length, dst.Length)).CopyTo(dst);
        return v;
    }

    public override string ToString()
    {
        fixed (byte* p = Name)
            return Marshal.PtrToStringUTF8((nint)p) ?? "";
    }
}

[StructLayout(LayoutKind.Sequential)]
public struct FwTrace
{
    public uint Verdict;
    public uint Reason;
    public uint Rule;
    public uint Seq;
}

/// <summary>XDP return codes.</summary>
public enum XdpAction : uint
{
    Aborted = 0,
    Drop = 1,
    Pass = 2,
    Tx = 3,
    Redirect = 4,
}

/// <summary>fw_meta value (key 0): what is loaded on an interface. Written by the control plane only.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct FwMeta
{
    public const int FileBytes = 256;

    public ulong Generation;
    public ulong LoadedNs;
    public uint Rules;
    public uint Prefixes;
    public uint Words;
    public uint Fields;
    public uint Classes;
    public uint XdpMode;
    public byte DefaultAction;
    public byte MalformedAction;
    public byte NonIpAction;
    public byte Pad;
    public uint Pad2;
    public fixed byte Digest[32];
    public fixed byte File[FileBytes];

    public string FileName
    {
        get
        {
            fixed (byte* p = File)
                return Marshal.PtrToStringUTF8((nint)p) ?? "";
        }
        set
        {
            var bytes = System.Text.Encoding.UTF8.GetBytes(value);
            fixed (byte* p = File)
            {
                var dst = new Span<byte>(p, FileBytes);
                dst.Clear();
                bytes.AsSpan(0, Math.Min(bytes.Length, FileBytes - 1)).CopyTo(dst);
            }
        }
    }

    public string DigestHex
    {
        get
        {
            fixed (byte* p = Digest)
                return Convert.ToHexStringLower(new ReadOnlySpan<byte>(p, 32));
        }
        set
        {
            fixed (byte* p = Digest)
                Convert.FromHexString(value).AsSpan(0, 32).CopyTo(new Span<byte>(p, 32));
        }
    }
}
