namespace Fw.Daemon;

/// <summary>What fwd last did, shared by the firewall service (writer), /metrics and systemd STATUS= (readers).</summary>
public sealed class DaemonStatus
{
    /// <summary>What one attached interface runs, as fwd last saw it.</summary>
    public sealed record InterfaceInfo(string Name, ulong Generation, int Rules, string Digest);

    private readonly Lock _lock = new();
    private IReadOnlyList<InterfaceInfo> _interfaces = [];
    private IReadOnlyList<string> _managed = [];

    /// <summary>The interfaces the rules file names, which fwd attaches and exports.</summary>
    public IReadOnlyList<string> Managed
    {
        get
        {
            lock (_lock)
                return _managed;
        }
    }

    public IReadOnlyList<InterfaceInfo> Interfaces
    {
        get
        {
            lock (_lock)
                return _interfaces;
        }
    }

    private long _version;

    /// <summary>
    /// Moves whenever what fwd knows changes (a read of the rules file, an interface found unfiltered or filtered
    /// again): the metrics snapshot is taken again at the next scrape instead of up to a second later.
    /// </summary>
    public long Version => Interlocked.Read(ref _version);

    /// <summary>When fwd last read the rules file (start, file change, SIGHUP); null before.</summary>
    public DateTimeOffset? LastReloadAt { get; private set; }
    /// <summary>Whether that read was valid and every interface now runs it.</summary>
    public bool LastReloadOk { get; private set; }
    public DateTimeOffset? LastSuccessAt { get; private set; }
    public long Successes { get; private set; }
    public long Failures { get; private set; }
    /// <summary>The first line of the last failure, for STATUS=.</summary>
    public string? LastError { get; private set; }

    public void Record(bool ok, IReadOnlyList<string> managed, IReadOnlyList<InterfaceInfo> interfaces, string? error, DateTimeOffset at)
    {
        lock (_lock)
        {
            _managed = managed;
            _interfaces = interfaces;
            LastReloadAt = at;
            LastReloadOk = ok;
            LastError = ok ? null : error;
            if (ok)
            {
                LastSuccessAt = at;
                Successes++;
            }
            else
            {
                Failures++;
            }
            Interlocked.Increment(ref _version);
        }
    }

    /// <summary>What runs where, as fwd's watch found it between two reads of the rules file.</summary>
    public void SetInterfaces(IReadOnlyList<InterfaceInfo> interfaces)
    {
        lock (_lock)
        {
            _interfaces = interfaces;
            Interlocked.Increment(ref _version);
        }
    }

    /// <summary>What runs where: "fw0 generation 3 (7 rules), fw1 generation 2 (7 rules)", and "fw2 not attached".</summary>
    public string Running()
    {
        lock (_lock)
        {
            var running = _interfaces.Select(i => $"{i.Name} generation {i.Generation} ({FirewallService.Plural(i.Rules, "rule")})")
                .Concat(_managed.Where(m => _interfaces.All(i => i.Name != m)).Select(m => $"{m} not attached"))
                .ToList();
            return running.Count == 0 ? "no interface" : string.Join(", ", running);
        }
    }

    /// <summary>One line for systemd's STATUS=: what runs where, and how the last reload went.</summary>
    public string Summary()
    {
        lock (_lock)
        {
            string running = Running();
            return LastReloadOk || LastReloadAt is null
                ? running
                : $"{running}; last reload failed at {LastReloadAt:HH:mm:ss}: {LastError}";
        }
    }
}
