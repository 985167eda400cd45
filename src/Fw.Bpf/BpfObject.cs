using System.Runtime.InteropServices;

namespace Fw.Bpf;

/// <summary>
/// A BPF ELF object through libbpf: open, size its maps, share maps with other objects, load, then
/// reach its maps and programs by name. Disposing it closes every fd it created.
/// </summary>
public sealed unsafe class BpfObject : IDisposable
{
    private readonly BpfObjectHandle _handle;
    private readonly Dictionary<string, BpfMap> _maps = [];

    private BpfObject(BpfObjectHandle handle, string path)
    {
        _handle = handle;
        Path = path;
    }

    public string Path { get; }
    public SafeHandle Handle => _handle;
    public bool Loaded { get; private set; }

    public static BpfObject Open(string path) => new(BpfObjectHandle.Open(path), path);

    public void SetMaxEntries(string map, int entries) =>
        BpfException.Check(Interop.bpf_map__set_max_entries(FindMap(map), (uint)entries), $"size {map}");

    public void SetValueSize(string map, int size) =>
        BpfException.Check(Interop.bpf_map__set_value_size(FindMap(map), (uint)size), $"size {map} values");

    /// <summary>Use an existing map (by fd) instead of creating this object's own.</summary>
    public void ReuseMap(string map, BpfMap existing) =>
        BpfException.Check(Interop.bpf_map__reuse_fd(FindMap(map), existing.Fd), $"share {map}");

    /// <summary>Sets a <c>const volatile</c> global before load, located through the object's BTF.</summary>
    public void SetGlobal<T>(string name, T value, string section = ".rodata")
        where T : unmanaged
    {
        if (Loaded)
            throw new InvalidOperationException($"set {name}: {Path} is already loaded");
        byte* data = (byte*)Interop.bpf_map__initial_value(FindMap(section), out nuint size);
        if (data == null)
            throw new BpfException($"read {section} of {Path}", 22);
        if (!SectionLayout(section).TryGetValue(name, out var at) || at.Size != sizeof(T) || at.Offset + at.Size > size)
            throw new BpfException($"set {name}: no {sizeof(T)}-byte global of that name in {section} of {Path}", 22);
        *(T*)(data + at.Offset) = value;
    }

    public void Load()
    {
        LibbpfLog.Clear();
        BpfException.Check(Interop.bpf_object__load(_handle.DangerousGetHandle()), $"load {System.IO.Path.GetFileName(Path)}");
        Loaded = true;
    }

    public BpfMap Map(string name)
    {
        if (_maps.TryGetValue(name, out var m))
            return m;
        return _maps[name] = new BpfMap(name, Interop.bpf_map__fd(FindMap(name)), _handle);
    }

    /// <summary>The fd of a loaded program (owned by this object).</summary>
    public int ProgramFd(string name) => BpfException.Check(Interop.bpf_program__fd(FindProgram(name)), $"program {name} of {Path}");

    public void PinProgram(string name, string path) =>
        BpfException.CheckFd(Interop.bpf_obj_pin(ProgramFd(name), path), $"pin {name} at {path}");

    /// <summary>
    /// Whether a program takes multi-buffer frames (SEC("xdp.frags"), BPF_F_XDP_HAS_FRAGS). A tail call needs caller
    /// and callee alike, so a program put under a dispatcher of another build may have to be loaded like it.
    /// </summary>
    public bool ProgramFrags(string name) => (Interop.bpf_program__flags(FindProgram(name)) & Interop.BpfFXdpHasFrags) != 0;

    /// <summary>Loads the program with or without multi-buffer frames (before <see cref="Load"/>).</summary>
    public void SetProgramFrags(string name, bool frags)
    {
        if (Loaded)
            throw new InvalidOperationException($"set the flags of {name}: {Path} is already loaded");
        nint prog = FindProgram(name);
        uint flags = Interop.bpf_program__flags(prog);
        flags = frags ? flags | Interop.BpfFXdpHasFrags : flags & ~Interop.BpfFXdpHasFrags;
        BpfException.Check(Interop.bpf_program__set_flags(prog, flags), $"set the flags of {name}");
    }

    private nint FindProgram(string name)
    {
        nint prog = Interop.bpf_object__find_program_by_name(_handle.DangerousGetHandle(), name);
        return prog != 0 ? prog : throw new BpfException($"find program {name} in {Path}", 2);
    }

    private nint FindMap(string name)
    {
        nint map = Interop.bpf_object__find_map_by_name(_handle.DangerousGetHandle(), name);
        return map != 0 ? map : throw new BpfException($"find map {name} in {Path}", 2);
    }

    private Dictionary<string, (uint Offset, uint Size)> SectionLayout(string section)
    {
        nint btf = Interop.bpf_object__btf(_handle.DangerousGetHandle());
        if (btf == 0)
            throw new BpfException($"read the BTF of {Path}", 22);
        return BtfLayout.Datasec(btf, section, Path).ToDictionary(v => v.Name, v => (v.Offset, v.Size));
    }

    /// <summary>
    /// The longest first buffer BPF_PROG_TEST_RUN gives an XDP program: one page less XDP_PACKET_HEADROOM (256)
    /// and the skb_shared_info at its end (320 on 64-bit kernels with the default 17 fragments): 3,520 bytes
    /// with 4 KiB pages. A longer frame goes on in page fragments, a multi-buffer xdp_buff, as a driver builds
    /// one for a jumbo frame.
    /// </summary>
    public static int TestRunMaxLinear => Environment.SystemPageSize - 256 - 320;

    /// <summary>Runs a frame through a program fd with BPF_PROG_TEST_RUN.</summary>
    /// <param name="linear">
    /// Bytes of the frame in its first buffer (ctx->data..data_end), at most the frame's length and
    /// <see cref="TestRunMaxLinear"/>; the rest follows in fragments. Null: as much as fits, the whole frame when
    /// it is shorter. Given, it is passed as the xdp_md context's data_end, which the kernel (6.18) takes as the
    /// first buffer's length (it would silently cut a longer one: refused here).
    /// </param>
    public static TestRunResult TestRun(int progFd, ReadOnlySpan<byte> frame, int repeat = 1, int? linear = null)
    {
        if (linear is < 0 || linear > frame.Length || linear > TestRunMaxLinear)
            throw new ArgumentOutOfRangeException(nameof(linear), linear, $"0-{Math.Min(frame.Length, TestRunMaxLinear)} bytes (the frame's length, at most one page's first buffer)");
        var outBuf = new byte[Math.Max(frame.Length, 64) + 256];
        var ctx = new Interop.XdpMd { DataEnd = (uint)(linear ?? 0) };
        fixed (byte* din = frame)
        fixed (byte* dout = outBuf)
        {
            var opts = new Interop.TestRunOpts
            {
                Sz = (nuint)sizeof(Interop.TestRunOpts),
                DataIn = din,
                DataSizeIn = (uint)frame.Length,
                DataOut = dout,
                DataSizeOut = (uint)outBuf.Length,
                Repeat = repeat,
            };
            if (linear is not null)
            {
                opts.CtxIn = &ctx;
                opts.CtxSizeIn = (uint)sizeof(Interop.XdpMd);
            }
            BpfException.CheckFd(Interop.bpf_prog_test_run_opts(progFd, ref opts), "run a program (BPF_PROG_TEST_RUN)");
            return new TestRunResult((XdpAction)opts.Retval, opts.Duration);
        }
    }

    /// <summary>
    /// The kernel's tag of a loaded program (bpf_prog_info.tag, what bpftool prints as "tag"): 16 hex digits of a
    /// SHA-1 over its instructions as they were submitted, with map references zeroed. Same code, same tag, whatever
    /// the maps or the values of its globals; another build of the code, another tag.
    /// </summary>
    public static string ProgramTag(int progFd)
    {
        var info = default(Interop.ProgInfo);
        uint len = (uint)sizeof(Interop.ProgInfo);
        BpfException.CheckFd(Interop.bpf_obj_get_info_by_fd(progFd, &info, ref len), "read program info");
        return Convert.ToHexStringLower(new ReadOnlySpan<byte>(info.Tag, 8));
    }

    public void Dispose() => _handle.Dispose();
}
