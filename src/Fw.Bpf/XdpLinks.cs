using System.Runtime.InteropServices;

namespace Fw.Bpf;

/// <summary>XDP attachment: BPF links (owned, pinnable), plain netlink attachment, and inspection.</summary>
public static unsafe class XdpLinks
{
    private const uint FlagsSkbMode = 1 << 1;
    private const uint FlagsDrvMode = 1 << 2;
    private const byte AttachedDrv = 1, AttachedSkb = 2;

    private static uint Flags(XdpMode mode) => mode switch
    {
        XdpMode.Native => FlagsDrvMode,
        XdpMode.Generic => FlagsSkbMode,
        _ => throw new ArgumentException("a link is created in native or generic mode", nameof(mode)),
    };

    /// <summary>Attaches a program with netlink (no link object): what stays until the interface goes.</summary>
    public static void Attach(int ifindex, int progFd, XdpMode mode, string what) =>
        BpfException.Check(Interop.bpf_xdp_attach(ifindex, progFd, Flags(mode), 0), $"attach {what}");

    /// <summary>Creates an XDP link: the program runs until the link is detached or its last reference goes.</summary>
    public static FdHandle Create(int progFd, int ifindex, XdpMode mode, string what)
    {
        var opts = new Interop.LinkCreateOpts { Sz = (nuint)sizeof(Interop.LinkCreateOpts), Flags = Flags(mode) };
        int fd = Interop.bpf_link_create(progFd, ifindex, Interop.BpfXdp, opts);
        if (fd < 0)
            throw new BpfException($"attach {what} ({(mode == XdpMode.Native ? "native" : "generic")} XDP)", -fd, LibbpfLog.TakeRecent());
        return new FdHandle(fd);
    }

    /// <summary>Detaches a link, even while other processes hold it open.</summary>
    public static void Detach(FdHandle link, string what)
    {
        BpfException.Check(Interop.bpf_link_detach(link.Fd), $"detach {what}");
        GC.KeepAlive(link);
    }

    /// <summary>The XDP program attached to an interface (any mode).</summary>
    public static XdpAttachment Query(int ifindex)
    {
        var q = new Interop.XdpQueryOpts { Sz = (nuint)sizeof(Interop.XdpQueryOpts) };
        BpfException.Check(Interop.bpf_xdp_query(ifindex, 0, ref q), "query XDP programs");
        var mode = q.AttachMode switch
        {
            AttachedDrv => XdpMode.Native,
            AttachedSkb => XdpMode.Generic,
            _ => XdpMode.Auto,
        };
        return new XdpAttachment(q.ProgId, mode);
    }

    /// <summary>The interface an XDP link is attached to: 0 when its interface is gone (the link is defunct), null when not an XDP link.</summary>
    public static int? LinkIfindex(FdHandle link)
    {
        const uint BpfLinkTypeXdp = 6;
        var info = default(LinkInfoXdp);
        uint len = (uint)sizeof(LinkInfoXdp);
        BpfException.CheckFd(Interop.bpf_obj_get_info_by_fd(link.Fd, &info, ref len), "read link info");
        GC.KeepAlive(link);
        return info.Type == BpfLinkTypeXdp ? (int)info.Ifindex : null;
    }

    /// <summary>Whether a link is an XDP link whose interface is gone (the kernel reports ifindex 0).</summary>
    public static bool IsDefunctXdpLink(FdHandle link) => LinkIfindex(link) == 0;

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
