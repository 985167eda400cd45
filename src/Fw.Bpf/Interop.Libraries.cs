namespace Fw.Bpf;

/// <summary>
/// Every native declaration of the project, one partial class per library as dotnet/runtime lays out its
/// <c>Interop.*</c>: <see cref="Libbpf"/> (Interop.Libbpf.cs), libc (Interop.Libc.cs) and the three libpcap calls
/// SharpPcap does not declare (Interop.Libpcap.cs). Nothing outside this project declares a native call. libbpf 1.x returns -errno from int functions and NULL (errno set)
/// from pointer functions; libc returns -1 and sets errno.
/// </summary>
internal static partial class Interop
{
    internal static class Libraries
    {
        /// <summary>Debian's libbpf 1.1.</summary>
        internal const string Libbpf = "libbpf.so.1";
        internal const string Libc = "libc";
        /// <summary>Debian's libpcap 1.10 (package libpcap0.8), the library SharpPcap loads.</summary>
        internal const string Libpcap = "libpcap.so.0.8";
    }
}
