using System.Runtime.InteropServices;

namespace Fw.Bpf;

/// <summary>A libbpf bpf_object: the parsed ELF and, after load, its maps and programs.</summary>
public sealed class BpfObjectHandle : SafeHandle
{
    public BpfObjectHandle(nint obj)
        : base(0, ownsHandle: true) => SetHandle(obj);

    public override bool IsInvalid => handle == 0;

    public static BpfObjectHandle Open(string path)
    {
        LibbpfLog.Install();
        if (!File.Exists(path))
            throw new BpfException($"open {path}", 2 /* ENOENT */);
        return new BpfObjectHandle(BpfException.CheckPtr(Interop.bpf_object__open_file(path, 0), $"open {path}"));
    }

    public nint Ptr => handle;

    protected override bool ReleaseHandle()
    {
        Interop.bpf_object__close(handle);
        return true;
    }
}
