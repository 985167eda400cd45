using System.Runtime.InteropServices;

namespace Fw.Traffic;

/// <summary>
/// The sender's native calls (libc): an AF_PACKET socket with a TX ring, CPU pinning and CPU clocks.
/// Calls return -1 and set errno (read with Marshal.GetLastPInvokeError).
/// </summary>
internal static unsafe partial class Interop
{
    private const string Libc = "libc";

    public const int AfPacket = 17;
    public const int SockRaw = 3;
    public const int SockCloexec = 0x80000;
    public const int SolPacket = 263;
    public const int PacketVersion = 10;          // linux/if_packet.h
    public const int PacketTxRing = 13;
    public const int PacketQdiscBypass = 20;
    public const int Tpacket2 = 1;                // enum tpacket_versions TPACKET_V2
    public const int ProtRead = 1, ProtWrite = 2, MapShared = 1;
    public const int ClockThreadCputimeId = 3;
    public const int Enobufs = 105, Eagain = 11, Eintr = 4;

    /// <summary>struct sockaddr_ll (linux/if_packet.h), 20 bytes.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct SockaddrLl
    {
        public ushort Family;
        public ushort Protocol;   // network byte order; 0: this socket receives nothing
        public int Ifindex;
        public ushort Hatype;
        public byte Pkttype;
        public byte Halen;
        public fixed byte Addr[8];
    }

    /// <summary>struct tpacket_req: the ring's geometry.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct TpacketReq
    {
        public uint BlockSize;
        public uint BlockNr;
        public uint FrameSize;
        public uint FrameNr;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct Timespec
    {
        public long Sec;
        public long Nsec;
    }

    [LibraryImport(Libc, SetLastError = true)]
    public static partial int socket(int domain, int type, int protocol);

    [LibraryImport(Libc, SetLastError = true)]
    public static partial int setsockopt(int fd, int level, int name, void* value, uint len);

    [LibraryImport(Libc, SetLastError = true)]
    public static partial int bind(int fd, in SockaddrLl addr, int addrlen);

    [LibraryImport(Libc, SetLastError = true)]
    public static partial void* mmap(void* addr, nuint length, int prot, int flags, int fd, nint offset);

    [LibraryImport(Libc, SetLastError = true)]
    public static partial int munmap(void* addr, nuint length);

    [LibraryImport(Libc, SetLastError = true)]
    public static partial nint send(int fd, void* buf, nuint len, int flags);

    [LibraryImport(Libc, SetLastError = true)]
    public static partial int close(int fd);

    [LibraryImport(Libc, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial uint if_nametoindex(string name);

    /// <summary>sched_setaffinity(2): pid 0 is the calling thread.</summary>
    [LibraryImport(Libc, SetLastError = true)]
    public static partial int sched_setaffinity(int pid, nuint cpusetsize, ulong* mask);

    /// <summary>sched_getcpu(3): the CPU the calling thread runs on.</summary>
    [LibraryImport(Libc)]
    public static partial int sched_getcpu();

    [LibraryImport(Libc, SetLastError = true)]
    public static partial int clock_gettime(int clock, out Timespec ts);

    [LibraryImport(Libc)]
    public static partial byte* strerror(int errnum);

    public static string StrError(int errno) => Marshal.PtrToStringUTF8((nint)strerror(errno)) ?? $"errno {errno}";
}

/// <summary>A failed system call of the traffic source: what we were doing, errno and its text.</summary>
public sealed class TrafficException(string what, int errno)
    : Exception($"{what}: {Interop.StrError(errno)}")
{
    public int Errno => errno;
}
