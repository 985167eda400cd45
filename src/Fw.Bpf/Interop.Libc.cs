using System.Runtime.InteropServices;

namespace Fw.Bpf;

/// <summary>
/// libc: descriptors and errors, interface names, file locks, namespaces, AF_PACKET sockets and their TX ring
/// (the lab and the traffic source), CPU affinity and CPU clocks. Calls return -1 and set errno (read with
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
    internal static partial nint recvfrom(int fd, byte* buf, nuint len, int flags, out SockaddrLl addr, ref int addrlen);

    [LibraryImport(Libc, SetLastError = true)]
    internal static partial int poll(PollFd* fds, nuint nfds, int timeoutMs);

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

    [StructLayout(LayoutKind.Sequential)]
    internal struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
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

    // ---- constants (x86-64 and arm64 share these) ----------------------------------------------
    internal const int LockEx = 2, LockNb = 4, LockUn = 8;
    internal const int ORdWr = 2, OCreat = 0x40, OCloexec = 0x80000;   // asm-generic fcntl.h
    internal const int CloneNewNet = 0x40000000;
    internal const int AfPacket = 17;
    internal const int SockRaw = 3;
    internal const int SockCloexec = 0x80000;
    internal const int SolPacket = 263;
    internal const int PacketVersion = 10;          // linux/if_packet.h
    internal const int PacketTxRing = 13;
    internal const int PacketQdiscBypass = 20;
    internal const int Tpacket2 = 1;                // enum tpacket_versions TPACKET_V2
    internal const ushort EthPAll = 0x0003;
    internal const byte PacketOutgoing = 4;
    internal const short PollIn = 0x1;
    internal const int ProtRead = 1, ProtWrite = 2, MapShared = 1;
    internal const int ClockThreadCputimeId = 3;
    internal const int Eintr = 4, Eagain = 11, Enetdown = 100, Enobufs = 105;
}
