using System.Runtime.InteropServices;

namespace Fw.Bpf;

/// <summary>libbpf: objects, maps, programs, links, the bpf() syscall wrappers and BTF.</summary>
internal static unsafe partial class Interop
{
    private const string Libbpf = Libraries.Libbpf;

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


    [LibraryImport(Libbpf, SetLastError = true)]
    internal static partial int bpf_map__set_max_entries(nint map, uint maxEntries);


    [LibraryImport(Libbpf, SetLastError = true)]
    internal static partial int bpf_map__set_value_size(nint map, uint size);

    [LibraryImport(Libbpf)]
    internal static partial void* bpf_map__initial_value(nint map, out nuint size);

    [LibraryImport(Libbpf)]
    internal static partial int bpf_program__fd(nint prog);

    [LibraryImport(Libbpf)]
    internal static partial uint bpf_program__flags(nint prog);

    [LibraryImport(Libbpf)]
    internal static partial int bpf_program__set_flags(nint prog, uint flags);






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

    [LibraryImport(Libbpf, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int bpf_map_create(uint mapType, string name, uint keySize, uint valueSize, uint maxEntries, in MapCreateOpts opts);

    [LibraryImport(Libbpf, SetLastError = true)]
    internal static partial int bpf_map_lookup_and_delete_elem(int fd, void* key, void* value);

    [LibraryImport(Libbpf, SetLastError = true)]
    internal static partial int bpf_map_lookup_batch(int fd, void* inBatch, void* outBatch, void* keys, void* values, ref uint count, in BatchOpts opts);


    [LibraryImport(Libbpf, SetLastError = true)]
    internal static partial int bpf_map_delete_batch(int fd, void* keys, ref uint count, in BatchOpts opts);

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
    internal static partial int bpf_map_get_fd_by_id(uint id);

    [LibraryImport(Libbpf, SetLastError = true)]
    internal static partial int bpf_enable_stats(int type);


    [LibraryImport(Libbpf, SetLastError = true)]
    internal static partial int bpf_xdp_attach(int ifindex, int progFd, uint flags, nint opts);


    [LibraryImport(Libbpf, SetLastError = true)]
    internal static partial int bpf_xdp_query(int ifindex, int flags, ref XdpQueryOpts opts);

    [LibraryImport(Libbpf, SetLastError = true)]
    internal static partial int bpf_link_create(int progFd, int targetFd, uint attachType, in LinkCreateOpts opts);

    [LibraryImport(Libbpf, SetLastError = true)]
    internal static partial int bpf_link_detach(int linkFd);

    [LibraryImport(Libbpf, SetLastError = true)]
    internal static partial int bpf_tc_hook_create(ref TcHook hook);

    [LibraryImport(Libbpf, SetLastError = true)]
    internal static partial int bpf_tc_attach(in TcHook hook, ref TcOpts opts);

    [LibraryImport(Libbpf, SetLastError = true)]
    internal static partial int bpf_tc_detach(in TcHook hook, in TcOpts opts);

    [LibraryImport(Libbpf, SetLastError = true)]
    internal static partial int bpf_tc_query(in TcHook hook, ref TcOpts opts);

    [LibraryImport(Libbpf)]
    internal static partial int bpf_tc_hook_destroy(ref TcHook hook);

    // ---- ring buffers (libbpf.h) -------------------------------------------------------------------
    [LibraryImport(Libbpf, SetLastError = true)]
    internal static partial nint ring_buffer__new(int mapFd, delegate* unmanaged[Cdecl]<nint, void*, nuint, int> sample, nint ctx, nint opts);

    [LibraryImport(Libbpf)]
    internal static partial int ring_buffer__poll(nint rb, int timeoutMs);

    [LibraryImport(Libbpf)]
    internal static partial int ring_buffer__consume(nint rb);

    [LibraryImport(Libbpf)]
    internal static partial void ring_buffer__free(nint rb);

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

    /// <summary>
    /// struct xdp_md (uapi linux/bpf.h), the XDP context BPF_PROG_TEST_RUN takes as ctx_in: offsets into the
    /// frame (data 0, data_end the first buffer's length), the rest 0.
    /// </summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct XdpMd
    {
        public uint Data;
        public uint DataEnd;
        public uint DataMeta;
        public uint IngressIfindex;
        public uint RxQueueIndex;
        public uint EgressIfindex;
    }

    /// <summary>struct bpf_map_create_opts (libbpf 1.1).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct MapCreateOpts
    {
        public nuint Sz;
        public uint BtfFd;
        public uint BtfKeyTypeId;
        public uint BtfValueTypeId;
        public uint BtfVmlinuxValueTypeId;
        public uint InnerMapFd;
        public uint MapFlags;
        public ulong MapExtra;
        public uint NumaNode;
        public uint MapIfindex;
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
    internal const uint XdpFlagsSkbMode = 1 << 1;
    internal const uint XdpFlagsDrvMode = 1 << 2;

    /// <summary>The leading part of struct bpf_link_create_opts; libbpf reads only what sz covers.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct LinkCreateOpts
    {
        public nuint Sz;
        public uint Flags;
        public uint Pad;
    }

    /// <summary>The leading fields of struct bpf_prog_info (the kernel fills what fits).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct ProgInfo
    {
        public uint Type;
        public uint Id;
        public fixed byte Tag[8];
        public uint JitedProgLen;
        public uint XlatedProgLen;
        public ulong JitedProgInsns;
        public ulong XlatedProgInsns;
        public ulong LoadTime;
        public uint CreatedByUid;
        public uint NrMapIds;
        public ulong MapIds;
        public fixed byte Name[16];
        public uint Ifindex;
        public uint GplCompatible;
        public ulong NetnsDev;
        public ulong NetnsIno;
        public uint NrJitedKsyms;
        public uint NrJitedFuncLens;
        public ulong JitedKsyms;
        public ulong JitedFuncLens;
        public uint BtfId;
        public uint FuncInfoRecSize;
        public ulong FuncInfo;
        public uint NrFuncInfo;
        public uint NrLineInfo;
        public ulong LineInfo;
        public ulong JitedLineInfo;
        public uint NrJitedLineInfo;
        public uint LineInfoRecSize;
        public uint JitedLineInfoRecSize;
        public uint NrProgTags;
        public ulong ProgTags;
        public ulong RunTimeNs;
        public ulong RunCnt;
        public ulong RecursionMisses;
        public uint VerifiedInsns;
        public uint AttachBtfObjId;
        public uint AttachBtfId;
        private uint _pad;
    }

    /// <summary>struct bpf_tc_hook (libbpf 1.1): where a TC program attaches.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct TcHook
    {
        public nuint Sz;
        public int Ifindex;
        public int AttachPoint;   // enum bpf_tc_attach_point
        public uint Parent;
        private uint _pad;
    }

    /// <summary>struct bpf_tc_opts (libbpf 1.1): which program, as which filter (handle, priority).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct TcOpts
    {
        public nuint Sz;
        public int ProgFd;
        public uint Flags;
        public uint ProgId;
        public uint Handle;
        public uint Priority;
        private uint _pad;
    }

    internal const int BpfTcIngress = 1 << 0;
    internal const int BpfTcEgress = 1 << 1;
    internal const uint BpfTcFReplace = 1 << 0;

    internal const uint BpfXdp = 37;                 // enum bpf_attach_type BPF_XDP
    internal const uint BpfFXdpHasFrags = 1 << 5;    // BPF_F_XDP_HAS_FRAGS: the program takes multi-buffer frames
}
