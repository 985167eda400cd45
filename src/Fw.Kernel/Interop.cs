using System.Runtime.InteropServices;

namespace Fw.Kernel;

/// <summary>
/// Every native call fw makes: libbpf (Debian's libbpf.so.1, 1.1) and a few libc calls. Nothing else
/// in the project calls native code. libbpf 1.x returns -errno from int functions and NULL (errno set)
/// from pointer functions.
/// </summary>
internal static unsafe partial class Interop
{
    private const string Libbpf = "libbpf.so.1";
    private const string Libc = "libc";

    // ---- objects, maps, programs -------------------------------------------------------------
    [LibraryImport(Libbpf, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial nint bpf_object__open_file(string path, nint opts);

    [LibraryImport(Libbpf, SetLastError = true)]
    internal static partial int bpf_object__load(nint obj);

    [LibraryImport(Libbpf)]
    internal static partial void bpf_object__close(nint obj);

    [LibraryImport(Libbpf, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial nint bpf_object__find_map_by_name(nint obj, string name);

    [LibraryImport(Libbpf, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial nint bpf_object__find_program_by_name(nint obj, string name);

    [LibraryImport(Libbpf)]
    internal static partial nint bpf_object__btf(nint obj);

    [LibraryImport(Libbpf)]
    internal static partial int bpf_map__fd(nint map);

    [LibraryImport(Libbpf, SetLastError = true)]
    internal static partial int bpf_map__reuse_fd(nint map, int fd);

    [LibraryImport(Libbpf)]
    internal static partial uint bpf_map__max_entries(nint map);

    [LibraryImport(Libbpf, SetLastError = true)]
    internal static partial int bpf_map__set_max_entries(nint map, uint maxEntries);

    [LibraryImport(Libbpf)]
    internal static partial uint bpf_map__value_size(nint map);

    [LibraryImport(Libbpf, SetLastError = true)]
    internal static partial int bpf_map__set_value_size(nint map, uint size);

    [LibraryImport(Libbpf)]
    internal static partial void* bpf_map__initial_value(nint map, out nuint size);

    [LibraryImport(Libbpf)]
    internal static partial int bpf_program__fd(nint prog);

    [LibraryImport(Libbpf, SetLastError = true)]
    internal static partial nint bpf_program__attach_xdp(nint prog, int ifindex);

    [LibraryImport(Libbpf, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int bpf_link__pin(nint link, string path);

    [LibraryImport(Libbpf)]
    internal static partial int bpf_link__fd(nint link);

    [LibraryImport(Libbpf)]
    internal static partial int bpf_link__destroy(nint link);

    [LibraryImport(Libbpf)]
    internal static partial void bpf_link__disconnect(nint link);

    [LibraryImport(Libbpf)]
    internal static partial int libbpf_num_possible_cpus();

    [LibraryImport(Libbpf)]
    internal static partial nint libbpf_set_print(delegate* unmanaged<int, byte*, nint, int> fn);

    // ---- syscall wrappers (bpf.h) ----------------------------------------------------------------
    [LibraryImport(Libbpf, SetLastError = true)]
    internal static partial int bpf_map_update_elem(int fd, void* key, void* value, ulong flags);

    [LibraryImport(Libbpf, SetLastError = true)]
    internal static partial int bpf_map_lookup_elem(int fd, void* key, void* value);

    [LibraryImport(Libbpf, SetLastError = true)]
    internal static partial int bpf_map_delete_elem(int fd, void* key);

    [LibraryImport(Libbpf, SetLastError = true)]
    internal static partial int bpf_map_get_next_key(int fd, void* key, void* nextKey);

    [LibraryImport(Libbpf, SetLastError = true)]
    internal static partial int bpf_map_update_batch(int fd, void* keys, void* values, ref uint count, in BatchOpts opts);

    [LibraryImport(Libbpf, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int bpf_obj_pin(int fd, string path);

    [LibraryImport(Libbpf, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int bpf_obj_get(string path);

    [LibraryImport(Libbpf, SetLastError = true)]
    internal static partial int bpf_prog_test_run_opts(int progFd, ref TestRunOpts opts);

    [LibraryImport(Libbpf, SetLastError = true)]
    internal static partial int bpf_obj_get_info_by_fd(int fd, void* info, ref uint infoLen);

    [LibraryImport(Libbpf, SetLastError = true)]
    internal static partial int bpf_prog_get_fd_by_id(uint id);

    [LibraryImport(Libbpf, SetLastError = true)]
    internal static partial int bpf_enable_stats(int type);

    [LibraryImport(Libbpf, SetLastError = true)]
    internal static partial int bpf_map_get_fd_by_id(uint id);

    [LibraryImport(Libbpf, SetLastError = true)]
    internal static partial int bpf_xdp_attach(int ifindex, int progFd, uint flags, nint opts);

    [LibraryImport(Libbpf, SetLastError = true)]
    internal static partial int bpf_xdp_detach(int ifindex, uint flags, nint opts);

    [LibraryImport(Libbpf, SetLastError = true)]
    internal static partial int bpf_xdp_query(int ifindex, int flags, ref XdpQueryOpts opts);

    // ---- BTF -------------------------------------------------------------------------------------
    [LibraryImport(Libbpf, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial nint btf__parse(string path, nint btfExt);

    [LibraryImport(Libbpf)]
    internal static partial void btf__free(nint btf);

    [LibraryImport(Libbpf, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int btf__find_by_name_kind(nint btf, string name, uint kind);

    [LibraryImport(Libbpf)]
    internal static partial BtfType* btf__type_by_id(nint btf, uint id);

    [LibraryImport(Libbpf)]
    internal static partial byte* btf__name_by_offset(nint btf, uint offset);

    // ---- libc ------------------------------------------------------------------------------------
    [LibraryImport(Libc, SetLastError = true)]
    internal static partial int close(int fd);

    [LibraryImport(Libc)]
    internal static partial byte* strerror(int errnum);

    [LibraryImport(Libc)]
    internal static partial int vsnprintf(byte* buf, nuint size, byte* fmt, nint args);

    [LibraryImport(Libc, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial uint if_nametoindex(string name);

    // ---- structs (libbpf 1.1 layouts) ------------------------------------------------------------
    [StructLayout(LayoutKind.Sequential)]
    internal struct TestRunOpts
    {
        public nuint Sz;
        public void* DataIn;
        public void* DataOut;
        public uint DataSizeIn;
        public uint DataSizeOut;
        public void* CtxIn;
        public void* CtxOut;
        public uint CtxSizeIn;
        public uint CtxSizeOut;
        public uint Retval;
        public int Repeat;
        public uint Duration;
        public uint Flags;
        public uint Cpu;
        public uint BatchSize;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct BatchOpts
    {
        public nuint Sz;
        public ulong ElemFlags;
        public ulong Flags;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct XdpQueryOpts
    {
        public nuint Sz;
        public uint ProgId;
        public uint DrvProgId;
        public uint HwProgId;
        public uint SkbProgId;
        public byte AttachMode;
        private fixed byte _pad[7];
    }

    /// <summary>struct btf_type; members (struct btf_member) follow it for structs and unions.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct BtfType
    {
        public uint NameOff;
        public uint Info;
        public uint SizeOrType;

        public readonly int Vlen => (int)(Info & 0xffff);
        public readonly int Kind => (int)((Info >> 24) & 0x1f);
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct BtfMember
    {
        public uint NameOff;
        public uint Type;
        public uint Offset;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct BtfVarSecinfo
    {
        public uint Type;
        public uint Offset;
        public uint Size;
    }

    internal const uint BtfKindStruct = 4;
    internal const uint BtfKindDatasec = 15;
    internal const ulong BpfAny = 0;
    internal const uint XdpFlagsUpdateIfNoExist = 1 << 0;
    internal const uint XdpFlagsSkbMode = 1 << 1;
    internal const uint XdpFlagsDrvMode = 1 << 2;
}
