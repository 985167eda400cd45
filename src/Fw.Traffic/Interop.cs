using System.Runtime.InteropServices;

namespace Fw.Traffic;

/// <summary>The generator's native calls (libc); libbpf goes through Fw.Kernel.</summary>
internal static unsafe partial class Interop
{
    private const string Libc = "libc";

    /// <summary>sched_setaffinity(2): pid 0 is the calling thread.</summary>
    [LibraryImport(Libc, SetLastError = true)]
    public static partial int sched_setaffinity(int pid, nuint cpusetsize, ulong* mask);

    /// <summary>sched_getcpu(3): the CPU the calling thread runs on.</summary>
    [LibraryImport(Libc)]
    public static partial int sched_getcpu();
}
