namespace Fw.Bpf;

/// <summary>
/// A BPF program as a TC filter on an interface's egress hook (clsact), at a fixed handle and priority so any
/// process can replace or remove it (libbpf's bpf_tc_*: netlink, no link object).
/// </summary>
public static unsafe class TcFilter
{
    private static Interop.TcHook Egress(int ifindex) => new()
    {
        Sz = (nuint)sizeof(Interop.TcHook), Ifindex = ifindex, AttachPoint = Interop.BpfTcEgress,
    };

    /// <summary>
    /// Attaches (or replaces) the program at egress as filter <paramref name="handle"/>, priority <paramref name="priority"/>.
    /// True when it made the interface's clsact qdisc for it (there was none).
    /// </summary>
    public static bool AttachEgress(int ifindex, int progFd, uint handle, uint priority, string what)
    {
        var hook = Egress(ifindex);
        int rc = Interop.bpf_tc_hook_create(ref hook);
        if (rc < 0 && rc != -17 /* EEXIST: the clsact qdisc is there already */)
            BpfException.Check(rc, $"create the TC egress hook of {what}");
        bool created = rc == 0;
        var opts = new Interop.TcOpts
        {
            Sz = (nuint)sizeof(Interop.TcOpts), ProgFd = progFd, Handle = handle, Priority = priority, Flags = Interop.BpfTcFReplace,
        };
        BpfException.Check(Interop.bpf_tc_attach(hook, ref opts), $"attach {what} at TC egress");
        return created;
    }

    /// <summary>Removes the interface's clsact qdisc with every filter on it, ingress and egress; none there is fine.</summary>
    public static void RemoveClsact(int ifindex, string what)
    {
        var hook = new Interop.TcHook
        {
            Sz = (nuint)sizeof(Interop.TcHook), Ifindex = ifindex, AttachPoint = Interop.BpfTcIngress | Interop.BpfTcEgress,
        };
        int rc = Interop.bpf_tc_hook_destroy(ref hook);
        if (rc < 0 && rc is not -2 /* ENOENT */ and not -22 /* EINVAL: no qdisc */)
            BpfException.Check(rc, $"remove the clsact qdisc of {what}");
    }

    /// <summary>The id of the program at egress as that filter, 0 when there is none.</summary>
    public static uint QueryEgress(int ifindex, uint handle, uint priority)
    {
        var hook = Egress(ifindex);
        var opts = new Interop.TcOpts { Sz = (nuint)sizeof(Interop.TcOpts), Handle = handle, Priority = priority };
        int rc = Interop.bpf_tc_query(hook, ref opts);
        return rc == 0 ? opts.ProgId : rc is -2 or -22 ? 0 : (uint)BpfException.Check(rc, "query the TC egress hook");
    }

    /// <summary>Removes that filter; none there (or no clsact qdisc) is fine.</summary>
    public static void DetachEgress(int ifindex, uint handle, uint priority, string what)
    {
        var hook = Egress(ifindex);
        var opts = new Interop.TcOpts { Sz = (nuint)sizeof(Interop.TcOpts), Handle = handle, Priority = priority };
        int rc = Interop.bpf_tc_detach(hook, opts);
        if (rc < 0 && rc is not -2 /* ENOENT */ and not -22 /* EINVAL: no qdisc */)
            BpfException.Check(rc, $"detach {what} from TC egress");
    }
}
