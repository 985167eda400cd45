using System.Runtime.InteropServices;

namespace Fw.Kernel;

// Calls for attaching and inspecting: links, prog info, map creation, flock, euid.
internal static unsafe partial class Interop
{
    [LibraryImport(Libbpf, SetLastError = true)]
    internal static partial int bpf_link_create(int progFd, int targetFd, uint attachType, in LinkCreateOpts opts);

    [LibraryImport(Libbpf, SetLastError = true)]
    internal static partial int bpf_link_detach(int linkFd);

    [LibraryImport(Libc, SetLastError = true)]
    internal static partial int flock(int fd, int operation);

    [LibraryImport(Libc, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int open(string path, int flags, uint mode);

    [LibraryImport(Libc)]
    internal static partial uint geteuid();

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

    internal const uint BpfXdp = 37;          // enum bpf_attach_type BPF_XDP
    internal const int LockEx = 2, LockNb = 4, LockUn = 8;
    internal const int ORdWr = 2, OCreat = 0x40, OCloexec = 0x80000;   // asm-generic fcntl.h (x86-64, arm64)
    internal const byte XdpAttachedDrv = 1, XdpAttachedSkb = 2, XdpAttachedHw = 3, XdpAttachedMulti = 4;
}
