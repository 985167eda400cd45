using System.Runtime.InteropServices;

namespace Fw.Bpf;

/// <summary>
/// libc: descriptors and errors, interface names, file locks, file types and real paths (statx, realpath),
/// namespaces, AF_PACKET sockets and their TX ring (the traffic source), CPU affinity and CPU clocks. Calls return -1 and set errno (read with
/// Marshal.GetLastPInvokeError).
/// </summary>
internal static unsafe partial class Interop
{
    private const string Libc = Libraries.Libc;

    // ---- descriptors, errors, identity ---------------------------------------------------------
    [LibraryImport(Libc, SetLastError = true)]
    internal static partial int close(int fd);

    [LibraryImport(Libc)]
    internal static partial byte* strerror(int errnum);

    [LibraryImport(Libc)]
    internal static partial int vsnprintf(byte* buf, nuint size, byte* fmt, nint args);

    [LibraryImport(Libc, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial uint if_nametoindex(string name);

    [LibraryImport(Libc)]
    internal static partial uint geteuid();

    [LibraryImport(Libc, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int open(string path, int flags, uint mode);

    [LibraryImport(Libc, SetLastError = true)]
    internal static partial int flock(int fd, int operation);

    [LibraryImport(Libc, SetLastError = true)]
    internal static partial int setns(int fd, int nstype);

    // ---- files: type, owner and mode without opening; real paths -------------------------------
    /// <summary>statx(2) (glibc 2.28): one layout on every architecture, unlike struct stat.</summary>
    [LibraryImport(Libc, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int statx(int dirfd, string path, int flags, uint mask, out Statx buf);

    /// <summary>fcntl(2) with an int argument (F_GETFL, F_SETFL).</summary>
    [LibraryImport(Libc, SetLastError = true)]
    internal static partial int fcntl(int fd, int cmd, int arg);

    /// <summary>realpath(3) with a NULL buffer: the result is malloc'd, release it with <see cref="free"/>.</summary>
    [LibraryImport(Libc, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial byte* realpath(string path, byte* resolved);

    [LibraryImport(Libc)]
    internal static partial void free(void* ptr);

    // ---- AF_PACKET sockets ---------------------------------------------------------------------
    [LibraryImport(Libc, SetLastError = true)]
    internal static partial int socket(int domain, int type, int protocol);

    [LibraryImport(Libc, SetLastError = true)]
    internal static partial int setsockopt(int fd, int level, int name, void* value, uint len);

    [LibraryImport(Libc, SetLastError = true)]
    internal static partial int bind(int fd, in SockaddrLl addr, int addrlen);

    [LibraryImport(Libc, SetLastError = true)]
    internal static partial nint send(int fd, void* buf, nuint len, int flags);

    [LibraryImport(Libc, SetLastError = true)]
    internal static partial void* mmap(void* addr, nuint length, int prot, int flags, int fd, nint offset);

    [LibraryImport(Libc, SetLastError = true)]
    internal static partial int munmap(void* addr, nuint length);

    // ---- CPUs and clocks -----------------------------------------------------------------------
    /// <summary>sched_setaffinity(2): pid 0 is the calling thread.</summary>
    [LibraryImport(Libc, SetLastError = true)]
    internal static partial int sched_setaffinity(int pid, nuint cpusetsize, ulong* mask);

    /// <summary>sched_getcpu(3): the CPU the calling thread runs on.</summary>
    [LibraryImport(Libc)]
    internal static partial int sched_getcpu();

    [LibraryImport(Libc, SetLastError = true)]
    internal static partial int clock_gettime(int clock, out Timespec ts);

    internal static string StrError(int errno) => Marshal.PtrToStringUTF8((nint)strerror(errno)) ?? $"errno {errno}";

    // ---- structs -------------------------------------------------------------------------------
    /// <summary>struct sockaddr_ll (linux/if_packet.h), 20 bytes.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct SockaddrLl
    {
        public ushort Family;
        public ushort Protocol;   // network byte order; 0: this socket receives nothing
        public int Ifindex;
        public ushort Hatype;
        public byte Pkttype;
        public byte Halen;
        public fixed byte Addr[8];
    }

    /// <summary>struct tpacket_req: a packet ring's geometry.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct TpacketReq
    {
        public uint BlockSize;
        public uint BlockNr;
        public uint FrameSize;
        public uint FrameNr;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct Timespec
    {
        public long Sec;
        public long Nsec;
    }

    /// <summary>struct statx_timestamp (linux/stat.h), 16 bytes.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct StatxTimestamp
    {
        public long Sec;
        public uint Nsec;
        private int _reserved;
    }

    /// <summary>struct statx (linux/stat.h): 256 bytes, the same on x86-64 and arm64; the fields fw reads come first.</summary>
    [StructLayout(LayoutKind.Sequential, Size = 256)]
    internal struct Statx
    {
        public uint Mask;               // 0: STATX_* bits the kernel filled in
        public uint Blksize;            // 4
        public ulong Attributes;        // 8
        public uint Nlink;              // 16
        public uint Uid;                // 20
        public uint Gid;                // 24
        public ushort Mode;             // 28: S_IFMT type bits and permission bits
        private ushort _spare0;         // 30
        public ulong Ino;               // 32
        public ulong Size;              // 40
        public ulong Blocks;            // 48
        public ulong AttributesMask;    // 56
        public StatxTimestamp Atime;    // 64
        public StatxTimestamp Btime;    // 80
        public StatxTimestamp Ctime;    // 96
        public StatxTimestamp Mtime;    // 112
        public uint RdevMajor;          // 128
        public uint RdevMinor;          // 132
        public uint DevMajor;           // 136
        public uint DevMinor;           // 140
    }

    // ---- constants (x86-64 and arm64 share these) ----------------------------------------------
    internal const int LockEx = 2, LockNb = 4, LockUn = 8;
    internal const int ORdOnly = 0, OWrOnly = 1, ORdWr = 2, OCreat = 0x40, ONoctty = 0x100, ONonblock = 0x800, ONofollow = 0x20000, OCloexec = 0x80000;   // asm-generic fcntl.h
    internal const int FGetfl = 3, FSetfl = 4;
    internal const int AtFdcwd = -100, AtSymlinkNofollow = 0x100, AtNoAutomount = 0x800, AtEmptyPath = 0x1000;
    internal const uint StatxBasicStats = 0x7ff;    // type, mode, nlink, uid, gid, times, ino, size, blocks
    internal const int SIfmt = 0xF000, SIfsock = 0xC000, SIflnk = 0xA000, SIfreg = 0x8000, SIfblk = 0x6000,
        SIfdir = 0x4000, SIfchr = 0x2000, SIfifo = 0x1000;
    internal const int CloneNewNet = 0x40000000;
    internal const int AfPacket = 17;
    internal const int SockRaw = 3;
    internal const int SockCloexec = 0x80000;
    internal const int SolPacket = 263;
    internal const int PacketVersion = 10;          // linux/if_packet.h
    internal const int PacketTxRing = 13;
    internal const int PacketQdiscBypass = 20;
    internal const int Tpacket2 = 1;                // enum tpacket_versions TPACKET_V2
    internal const int ProtRead = 1, ProtWrite = 2, MapShared = 1;
    internal const int ClockThreadCputimeId = 3;
    internal const int ClockMonotonicCoarse = 6;
    internal const int Eintr = 4, Eagain = 11, Eloop = 40, Enobufs = 105;
}
