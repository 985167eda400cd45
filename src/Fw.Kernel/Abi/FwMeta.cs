using System.Runtime.InteropServices;

namespace Fw.Kernel;

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
