namespace Fw.Bpf;

/// <summary>Network interfaces of the calling thread's namespace, by name.</summary>
public static class NetInterface
{
    /// <summary>The interface's index, or 0 when there is none of that name.</summary>
    public static int TryIndex(string name) => (int)Interop.if_nametoindex(name);

    /// <summary>The interface's index; ENODEV when there is none of that name.</summary>
    public static int Index(string name)
    {
        int ifindex = TryIndex(name);
        return ifindex != 0 ? ifindex : throw new BpfException($"{name}: no such interface", 19 /* ENODEV */);
    }
}

