using System.Runtime.InteropServices;

namespace Fw.Lab;

/// <summary>
/// Every native call the lab makes (libc: namespaces and AF_PACKET sockets; libbpf: attach the pass
/// program, read a pinned link). The rest of the lab calls these, nothing else. libc calls return -1 and
/// set errno; libbpf 1.x calls return -errno.
/// </summary>
internal static unsafe partial class Interop
{
    private const string Libc = "libc";

    public const int CloneNewNet = 0x40000000;
    public const int AfPacket = 17;
    public const int SockRaw = 3;
    public const int SockCloexec = 0x80000;
    public const ushort EthPAll = 0x0003;
    public const byte PacketOutgoing = 4;
    public const short PollIn = 0x1;
    public const int Eintr = 4;
    public const int Enetdown = 100;

    /// <summary>struct sockaddr_ll (linux/if_packet.h), 20 bytes.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct SockaddrLl
    {
        public ushort Family;
        public ushort Protocol;   // network byte order
        public int Ifindex;
        public ushort Hatype;
        public byte Pkttype;
        public byte Halen;
        public fixed byte Addr[8];
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }


    [LibraryImport(Libc, SetLastError = true)]
    public static partial int setns(int fd, int nstype);

    [LibraryImport(Libc, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial uint if_nametoindex(string name);

    [LibraryImport(Libc, SetLastError = true)]
    public static partial int socket(int domain, int type, int protocol);

    [LibraryImport(Libc, SetLastError = true)]
    public static partial int bind(int fd, in SockaddrLl addr, int addrlen);

    [LibraryImport(Libc, SetLastError = true)]
    public static partial nint send(int fd, byte* buf, nuint len, int flags);

    [LibraryImport(Libc, SetLastError = true)]
    public static partial nint recvfrom(int fd, byte* buf, nuint len, int flags, out SockaddrLl addr, ref int addrlen);

    [LibraryImport(Libc, SetLastError = true)]
    public static partial int poll(PollFd* fds, nuint nfds, int timeoutMs);

    [LibraryImport(Libc, SetLastError = true)]
    public static partial int close(int fd);

    [LibraryImport(Libc)]
    public static partial byte* strerror(int errnum);



    public static string StrError(int errno) => Marshal.PtrToStringUTF8((nint)strerror(errno)) ?? $"errno {errno}";
}

/// <summary>An owned file descriptor (an AF_PACKET socket), closed on dispose.</summary>
internal sealed class FdSafeHandle : SafeHandle
{
    public FdSafeHandle(int fd)
        : base(-1, ownsHandle: true) => SetHandle(fd);

    public override bool IsInvalid => handle < 0;

    public int Fd => (int)handle;

    protected override bool ReleaseHandle() => Interop.close((int)handle) == 0;
}
