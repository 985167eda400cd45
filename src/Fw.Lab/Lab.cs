using System.Net;
using System.Text.RegularExpressions;
using Fw.Bpf;
using Fw.Packets;

namespace Fw.Lab;

/// <summary>
/// A veth/netns lab: four network namespaces joined by veth pairs, with addresses, routes and static
/// neighbours, so real traffic and crafted frames cross the firewall's interface with no ARP or ND:
/// <code>
///   client ns              fw ns (routes)                server ns
///   [c0] ---------------- [fw0]      [fw1] ---------------- [s0]
///                                    [fw2] ---------------- [k0]
///                                                            sink ns
/// </code>
/// fw attaches to fw0 (it sees everything the client sends); what it passes is routed to the server, what
/// it redirects to fw2 arrives in the sink. c0, s0 and k0 run an XDP pass program, so each of them can
/// receive XDP_REDIRECT. Addresses and MACs: <see cref="LabNet"/>.
/// <para>
/// Namespaces are named <c>fwl&lt;pid&gt;x&lt;n&gt;-client</c> (and <c>-fw</c>, <c>-server</c>, <c>-sink</c>): unique
/// per process and per lab, so labs never collide. <see cref="Dispose"/> removes everything the lab made
/// (and tells <see cref="InterfacesDeleted"/> which interfaces went); the constructor first removes what labs of
/// dead processes left behind.
/// </para>
/// <para>
/// Interface names: each lab has its own namespaces, so by default every lab uses the names above. fw,
/// however, pins its state by interface name alone (<c>/sys/fs/bpf/fw/IFACE</c>), so two labs with fw
/// attached to fw0 at once (or a lab and a host that has an fw0) would collide there. Tests that attach fw
/// use <see cref="LabNaming.Unique"/>: the fw namespace's interfaces are then named after the lab
/// (<c>fwl&lt;pid&gt;x&lt;n&gt;i</c> for fw0, <c>...o</c> for fw1, <c>...k</c> for fw2). Use the instance
/// properties (<see cref="FwClientIf"/>, ...) rather than <see cref="LabNet"/>'s constants to work either way.
/// </para>
/// </summary>
public sealed partial class Lab : IDisposable
{
    public const string NamePrefix = "fwl";
    private static readonly string[] FixedNames =
        [LabNet.ClientIf, LabNet.FwClientIf, LabNet.FwServerIf, LabNet.FwSinkIf, LabNet.ServerIf, LabNet.SinkIf];
    private static int s_next;
    private bool _disposed;

    /// <summary>
    /// Raised with the names of fw-namespace interfaces a lab deleted (this one on dispose, labs of dead processes
    /// at start), and whether the names were the lab's own (<see cref="LabNaming.Unique"/>: no one else will use
    /// them again). The lab knows nothing of fw; fw's tests, the demo and the benchmarks subscribe
    /// <c>Fw.Kernel.Leftovers.Remove</c>, which removes fw's pins of those names whose XDP link lost its
    /// interface (and, for the lab's own names, their lock files), so nothing is left under /sys/fs/bpf or /run/fw.
    /// </summary>
    public static event Action<IReadOnlyCollection<string>, bool>? InterfacesDeleted;

    public Lab(LabNaming naming = LabNaming.Fixed)
    {
        RemoveLeftovers();
        Id = $"{NamePrefix}{Environment.ProcessId}x{Interlocked.Increment(ref s_next)}";
        (FwClientIf, FwServerIf, FwSinkIf) = naming == LabNaming.Unique
            ? UniqueNames(Id)
            : (LabNet.FwClientIf, LabNet.FwServerIf, LabNet.FwSinkIf);
        Client = new Netns($"{Id}-client");
        Fw = new Netns($"{Id}-fw");
        Server = new Netns($"{Id}-server");
        Sink = new Netns($"{Id}-sink");
        try
        {
            Build();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>This lab's prefix, <c>fwl&lt;pid&gt;x&lt;n&gt;</c>.</summary>
    public string Id { get; }

    // The six interfaces. The peers' names are always LabNet's; the fw namespace's depend on LabNaming.
    public string ClientIf => LabNet.ClientIf;
    public string FwClientIf { get; }
    public string FwServerIf { get; }
    public string FwSinkIf { get; }
    public string ServerIf => LabNet.ServerIf;
    public string SinkIf => LabNet.SinkIf;

    public Netns Client { get; }
    public Netns Fw { get; }
    public Netns Server { get; }
    public Netns Sink { get; }

    public IReadOnlyList<Netns> Namespaces => [Client, Fw, Server, Sink];

    /// <summary>The XDP pass object the lab attaches to the peers.</summary>
    public static string PassObjectPath => Path.Combine(AppContext.BaseDirectory, "bpf", "lab_pass.bpf.o");

    public const string PassProgram = "lab_xdp_pass";

    /// <summary>The namespace that holds <paramref name="address"/> (one of <see cref="LabNet"/>'s).</summary>
    public Netns Owner(IPAddress address) => Role(address) switch
    {
        "client" => Client,
        "fw" => Fw,
        "server" => Server,
        "sink" => Sink,
        _ => throw new ArgumentException($"{address} is not an address of the lab"),
    };

    private static string? Role(IPAddress a) =>
        a.Equals(LabNet.ClientV4) || a.Equals(LabNet.ClientV6) || a.Equals(LabNet.ClientOtherV4) || a.Equals(LabNet.ClientOtherV6) ? "client"
        : a.Equals(LabNet.ServerV4) || a.Equals(LabNet.ServerV6) ? "server"
        : a.Equals(LabNet.SinkV4) || a.Equals(LabNet.SinkV6) ? "sink"
        : new[] { LabNet.FwClientV4, LabNet.FwClientV6, LabNet.FwClientOtherV4, LabNet.FwClientOtherV6, LabNet.FwServerV4, LabNet.FwServerV6, LabNet.FwSinkV4, LabNet.FwSinkV6 }.Contains(a) ? "fw"
        : null;

    /// <summary>
    /// <paramref name="frame"/> with the MACs of c0 (source) and fw0 (destination): a frame the client sends
    /// to the firewall, which routes it on by its IP destination.
    /// </summary>
    public static Frame FromClient(Frame frame) => frame with { SrcMac = LabNet.ClientMac, DstMac = LabNet.FwClientMac };

    /// <summary>
    /// Sends crafted frames from c0 (as they are; see <see cref="FromClient"/> for the MACs), in order, with libpcap
    /// inside the client namespace (<see cref="LiveCapture.Inject"/>: through the qdisc layer, so captures on c0 see
    /// them leave).
    /// </summary>
    /// <exception cref="LabException">c0 refused a frame (ENOBUFS: fw0's queue is full).</exception>
    public void SendFromClient(params Frame[] frames) =>
        LiveCapture.Inject(Client, LabNet.ClientIf, frames.Select(f => f.Build()));

    /// <summary>A capture of what arrives on s0, the server's side; open it before sending.</summary>
    public LiveCapture CaptureServer() => LiveCapture.Open(Server, LabNet.ServerIf);

    /// <summary>A capture of what arrives on k0, the sink (redirect target fw2's peer); open it before sending.</summary>
    public LiveCapture CaptureSink() => LiveCapture.Open(Sink, LabNet.SinkIf);

    /// <summary>A capture of what arrives back on c0, the client.</summary>
    public LiveCapture CaptureClient() => LiveCapture.Open(Client, LabNet.ClientIf);

    /// <summary>A capture of what the client sends out of c0 (its sockets' traffic and crafted frames): what fw0 receives.</summary>
    public LiveCapture CaptureClientSent() => LiveCapture.Open(Client, LabNet.ClientIf, CaptureDirection.Leaving);

    /// <summary>What c0 sends, and what arrives on s0 and on k0, captured at once; open it before sending.</summary>
    public LabWatch Watch() => new(this);

    // ---- Building and removing ---------------------------------------------------------------------

    private void Build()
    {
        foreach (var ns in Namespaces)
            Command.Run("ip", "netns", "add", ns.Name).Check();
        // Before the interfaces exist, so they inherit it: quiet links. No DAD, no router solicitations, and
        // the MLD reports a link sends when it comes up go out within milliseconds (the default spreads them
        // over a second), so the wait for quiet at the end is short.
        foreach (var ns in Namespaces)
        {
            ns.Run(() =>
            {
                WriteSysctl("net/ipv6/conf/default/accept_dad", "0");
                WriteSysctl("net/ipv6/conf/default/router_solicitations", "0");
                WriteSysctl("net/ipv6/conf/default/accept_ra", "0");
                WriteSysctl("net/ipv6/conf/default/mldv2_unsolicited_report_interval", "1");
            });
        }
        Fw.Run(() =>
        {
            WriteSysctl("net/ipv4/ip_forward", "1");
            WriteSysctl("net/ipv6/conf/all/forwarding", "1");
        });

        // Each pair is created with its ends already in their namespaces: nothing appears in the host's.
        Veth(Client, LabNet.ClientIf, LabNet.ClientMac, Fw, FwClientIf, LabNet.FwClientMac);
        Veth(Server, LabNet.ServerIf, LabNet.ServerMac, Fw, FwServerIf, LabNet.FwServerMac);
        Veth(Sink, LabNet.SinkIf, LabNet.SinkMac, Fw, FwSinkIf, LabNet.FwSinkMac);

        // XDP-ready peers: one loaded pass program, attached (native) to c0, s0 and k0 before they come up.
        using var pass = BpfObject.Open(PassObjectPath);
        pass.Load();
        int fd = pass.ProgramFd(PassProgram);
        foreach (var (ns, dev) in new[] { (Client, LabNet.ClientIf), (Server, LabNet.ServerIf), (Sink, LabNet.SinkIf) })
        {
            ns.Run(() =>
            {
                XdpLinks.Attach(NetInterface.Index(dev), fd, XdpMode.Native, $"{PassProgram} to {dev} in {ns} (native XDP)");
            });
        }

        Configure();
        WaitUntilQuiet();
    }

    /// <summary>Addresses, links up, routes, neighbours.</summary>
    private void Configure()
    {
        // Addresses and links up everywhere first: IPv6 gateways must be on an up link before routes name them.
        Client.IpBatch([
            "link set lo up",
            .. Addr(LabNet.ClientIf, LabNet.ClientV4, 24, LabNet.ClientOtherV4, 24, LabNet.ClientV6, 64, LabNet.ClientOtherV6, 64),
            $"link set {LabNet.ClientIf} up",
        ]);
        Fw.IpBatch([
            "link set lo up",
            .. Addr(FwClientIf, LabNet.FwClientV4, 24, LabNet.FwClientOtherV4, 24, LabNet.FwClientV6, 64, LabNet.FwClientOtherV6, 64),
            .. Addr(FwServerIf, LabNet.FwServerV4, 24, LabNet.FwServerV6, 64),
            .. Addr(FwSinkIf, LabNet.FwSinkV4, 24, LabNet.FwSinkV6, 64),
            $"link set {FwClientIf} up",
            $"link set {FwServerIf} up",
            $"link set {FwSinkIf} up",
        ]);
        Server.IpBatch([
            "link set lo up",
            .. Addr(LabNet.ServerIf, LabNet.ServerV4, 24, LabNet.ServerV6, 64),
            $"link set {LabNet.ServerIf} up",
        ]);
        Sink.IpBatch([
            "link set lo up",
            .. Addr(LabNet.SinkIf, LabNet.SinkV4, 24, LabNet.SinkV6, 64),
            $"link set {LabNet.SinkIf} up",
        ]);

        // Routes (only the lab's own prefixes) and permanent neighbours.
        Client.IpBatch([
            .. Routes(LabNet.ClientIf, LabNet.FwClientV4, LabNet.FwClientV6),
            .. Neigh(LabNet.ClientIf, LabNet.FwClientMac, LabNet.FwClientV4, LabNet.FwClientOtherV4, LabNet.FwClientV6, LabNet.FwClientOtherV6),
        ]);
        Fw.IpBatch([
            .. Neigh(FwClientIf, LabNet.ClientMac, LabNet.ClientV4, LabNet.ClientOtherV4, LabNet.ClientV6, LabNet.ClientOtherV6),
            .. Neigh(FwServerIf, LabNet.ServerMac, LabNet.ServerV4, LabNet.ServerV6),
            .. Neigh(FwSinkIf, LabNet.SinkMac, LabNet.SinkV4, LabNet.SinkV6),
        ]);
        Server.IpBatch([
            .. Routes(LabNet.ServerIf, LabNet.FwServerV4, LabNet.FwServerV6),
            .. Neigh(LabNet.ServerIf, LabNet.FwServerMac, LabNet.FwServerV4, LabNet.FwServerV6),
        ]);
        Sink.IpBatch([
            .. Routes(LabNet.SinkIf, LabNet.FwSinkV4, LabNet.FwSinkV6),
            .. Neigh(LabNet.SinkIf, LabNet.FwSinkMac, LabNet.FwSinkV4, LabNet.FwSinkV6),
        ]);
    }

    /// <summary>
    /// IPv6 announces every link that comes up (MLD reports, a few milliseconds after its carrier), and a test
    /// counting packets must not see them: watches every link and waits until no frame has arrived on any for
    /// <see cref="QuietFor"/> (at most <see cref="QuietWithin"/>). The captures open once the links are up (libpcap
    /// opens none on a down link); reports sent before that are over, and later ones are waited out here.
    /// </summary>
    private void WaitUntilQuiet()
    {
        var watch = new List<LiveCapture>();
        try
        {
            foreach (var (ns, dev) in new[] { (Client, ClientIf), (Fw, FwClientIf), (Fw, FwServerIf), (Fw, FwSinkIf), (Server, ServerIf), (Sink, SinkIf) })
                watch.Add(LiveCapture.Open(ns, dev));
            if (LiveCapture.CollectUntilQuiet(watch, QuietFor, QuietWithin) is null)
                throw new LabException($"lab {Id}: still not quiet after {QuietWithin.TotalSeconds:0} s");
        }
        finally
        {
            foreach (var w in watch)
                w.Dispose();
        }
    }

    private static readonly TimeSpan QuietFor = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan QuietWithin = TimeSpan.FromSeconds(5);

    private static void Veth(Netns a, string aName, string aMac, Netns b, string bName, string bMac) =>
        Command.Run("ip", "link", "add", aName, "netns", a.Name, "address", aMac, "type", "veth",
            "peer", "name", bName, "netns", b.Name, "address", bMac).Check();

    /// <summary>ip commands adding (address, prefix length) pairs; IPv6 without duplicate address detection.</summary>
    private static IEnumerable<string> Addr(string dev, params object[] pairs)
    {
        for (int i = 0; i < pairs.Length; i += 2)
        {
            var a = (IPAddress)pairs[i];
            bool v6 = a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6;
            yield return $"addr add {a}/{pairs[i + 1]} dev {dev}{(v6 ? " nodad" : "")}";
        }
    }

    private static IEnumerable<string> Routes(string dev, IPAddress gw4, IPAddress gw6) =>
        [$"route add {LabNet.LabV4} via {gw4} dev {dev}", $"route add {LabNet.LabV6} via {gw6} dev {dev}"];

    private static IEnumerable<string> Neigh(string dev, string mac, params IPAddress[] addresses) =>
        addresses.Select(a => $"neigh replace {a} lladdr {mac} dev {dev} nud permanent");

    /// <summary>Writes /proc/sys/NAME of the calling thread's network namespace.</summary>
    private static void WriteSysctl(string name, string value) => File.WriteAllText($"/proc/sys/{name}", value);

    /// <summary>
    /// Removes the lab: its veth pairs (which also detaches whatever XDP programs run on them), what <see cref="InterfacesDeleted"/>'s
    /// subscribers keep for those names, then the namespaces. Best effort: every step is tried; failures are
    /// written to stderr.
    /// </summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        var problems = new List<string>();
        foreach (var (ns, dev) in new[] { (Client, LabNet.ClientIf), (Server, LabNet.ServerIf), (Sink, LabNet.SinkIf) })
        {
            if (ns.Exists)
                Try(problems, () => DeleteLink(ns, dev));
        }
        Try(problems, () => InterfacesDeleted?.Invoke([FwClientIf, FwServerIf, FwSinkIf], FwClientIf != LabNet.FwClientIf));
        foreach (var ns in Namespaces)
            Try(problems, () => DeleteNamespace(ns.Name));
        foreach (string p in problems)
            Console.Error.WriteLine($"lab {Id}: cleanup: {p}");
    }

    /// <summary>
    /// Removes what labs of processes that no longer run left behind (a crash, a kill -9): their namespaces
    /// and veths, and tells <see cref="InterfacesDeleted"/> the lab's interface names. Returns the
    /// namespaces removed.
    /// </summary>
    public static IReadOnlyList<string> RemoveLeftovers()
    {
        var removed = new List<string>();
        var names = new HashSet<string>();
        var problems = new List<string>();
        if (Directory.Exists("/run/netns"))
        {
            foreach (string name in Directory.GetFiles("/run/netns").Select(Path.GetFileName).OfType<string>().Order())
            {
                var m = LabNamespace().Match(name);
                if (!m.Success || !int.TryParse(m.Groups[1].Value, out int pid) || pid == Environment.ProcessId || Directory.Exists($"/proc/{pid}"))
                    continue;
                var ns = new Netns(name);
                Try(problems, () =>
                {
                    var links = ns.Exec("ip", "-o", "link", "show", "type", "veth").Check().Stdout;
                    foreach (Match l in VethName().Matches(links))
                        DeleteLink(ns, l.Groups[1].Value);
                });
                Try(problems, () => DeleteNamespace(name));
                removed.Add(name);
                string id = $"{NamePrefix}{m.Groups[1].Value}x{m.Groups[2].Value}";
                if (id.Length < MaxIfName)
                    names.UnionWith([$"{id}i", $"{id}o", $"{id}k"]);
            }
        }
        Try(problems, () => InterfacesDeleted?.Invoke(FixedNames, false));
        Try(problems, () => InterfacesDeleted?.Invoke(names, true));
        foreach (string p in problems)
            Console.Error.WriteLine($"lab: removing leftovers: {p}");
        return removed;
    }

    /// <summary>The fw namespace's interface names under <see cref="LabNaming.Unique"/>: the lab's id and i, o, k.</summary>
    private static (string, string, string) UniqueNames(string id) =>
        id.Length < MaxIfName ? ($"{id}i", $"{id}o", $"{id}k") : throw new LabException($"lab {id}: the id is too long for unique interface names");

    /// <summary>IFNAMSIZ - 1: the longest interface name the kernel takes.</summary>
    private const int MaxIfName = 15;

    [GeneratedRegex(@"^fwl(\d+)x(\d+)-(client|fw|server|sink)$")]
    private static partial Regex LabNamespace();

    /// <summary>"7: c0@if8: &lt;...&gt;" in `ip -o link` output.</summary>
    [GeneratedRegex(@"^\d+:\s+([^@:\s]+)", RegexOptions.Multiline)]
    private static partial Regex VethName();

    private static void DeleteLink(Netns ns, string dev)
    {
        var r = ns.Exec("ip", "link", "del", dev);
        if (!r.Ok && !r.Stderr.Contains("Cannot find device"))
            r.Check();
    }

    private static void DeleteNamespace(string name)
    {
        if (!File.Exists($"/run/netns/{name}"))
            return;
        var r = Command.Run("ip", "netns", "del", name);
        if (!r.Ok && File.Exists($"/run/netns/{name}"))
            r.Check();
    }

    private static void Try(List<string> problems, Action step)
    {
        try
        {
            step();
        }
        catch (Exception e)
        {
            problems.Add(e.Message);
        }
    }
}

/// <summary>How a lab names the interfaces of its fw namespace (see <see cref="Lab"/>).</summary>
public enum LabNaming
{
    /// <summary>fw0, fw1, fw2, as in the documented topology and the demo.</summary>
    Fixed,

    /// <summary>Named after the lab (fwl&lt;pid&gt;x&lt;n&gt;i, o, k): fw's pins of two labs cannot collide.</summary>
    Unique,
}
