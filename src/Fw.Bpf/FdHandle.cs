using System.Runtime.InteropServices;

namespace Fw.Bpf;

/// <summary>An owned file descriptor of a BPF object (map, program, link), or of fw's lock file; closed on dispose.</summary>
public sealed class FdHandle : SafeHandle
{
    public FdHandle(int fd)
        : base(-1, ownsHandle: true) => SetHandle(fd);

    public override bool IsInvalid => handle < 0;

    public int Fd => (int)handle;

    /// <summary>Opens a pinned object under bpffs.</summary>
    public static FdHandle OpenPinned(string path) =>
        new(BpfException.CheckFd(Interop.bpf_obj_get(path), $"open pinned {path}"));

    public void Pin(string path) => BpfException.CheckFd(Interop.bpf_obj_pin(Fd, path), $"pin {path}");

    /// <summary>The kernel's id of the object: bpf_prog_info, bpf_map_info and bpf_link_info all begin {type, id}.</summary>
    public unsafe uint ObjectId
    {
        get
        {
            var head = stackalloc uint[2];
            uint len = 2 * sizeof(uint);
            BpfException.CheckFd(Interop.bpf_obj_get_info_by_fd(Fd, head, ref len), "read object info");
            GC.KeepAlive(this);
            return head[1];
        }
    }

    /// <summary>The id of a pinned object.</summary>
    public static uint IdOfPinned(string path)
    {
        using var h = OpenPinned(path);
        return h.ObjectId;
    }

    protected override bool ReleaseHandle() => Interop.close((int)handle) == 0;
}

