using System.Runtime.InteropServices;

namespace Fw.Kernel;

/// <summary>XDP attachment helpers for programs other than fw's own (the lab's pass programs) and link inspection.</summary>
public static unsafe class XdpLinks
{
    /// <summary>Attaches a program to an interface of the calling thread's namespace (netlink, no link object).</summary>
    public static void Attach(int ifindex, int progFd, XdpMode mode, string what)
    {
        uint flags = mode == XdpMode.Generic ? Interop.XdpFlagsSkbMode : Interop.XdpFlagsDrvMode;
        BpfException.Check(Interop.bpf_xdp_attach(ifindex, progFd, flags, 0), $"attach {what}");
    }

    /// <summary>Whether a pinned link is an XDP link whose interface is gone (the kernel reports ifindex 0).</summary>
    public static bool IsDefunctXdpLink(FdHandle link)
    {
        const uint BpfLinkTypeXdp = 6;
        var info = default(LinkInfoXdp);
        uint len = (uint)sizeof(LinkInfoXdp);
        BpfException.CheckFd(Interop.bpf_obj_get_info_by_fd(link.Fd, &info, ref len), "read link info");
        return info.Type == BpfLinkTypeXdp && info.Ifindex == 0;
    }

    /// <summary>The head of struct bpf_link_info: type, id, prog_id, then the union (8-aligned); for XDP, its ifindex.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct LinkInfoXdp
    {
        public uint Type;
        public uint Id;
        public uint ProgId;
        public uint Pad;
        public uint Ifindex;
        public uint Pad2;
    }
}
