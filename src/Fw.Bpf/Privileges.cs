namespace Fw.Bpf;

/// <summary>The process's privileges.</summary>
public static class Privileges
{
    public static bool IsRoot => Interop.geteuid() == 0;
}
