using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Fw.Daemon;

/// <summary>
/// Watches the rules file and its set files through their directories (inotify), so that every way a file
/// gets replaced is seen: an editor writing in place, an editor or `sed -i` renaming a new file over it,
/// and a Kubernetes ConfigMap volume flipping its `..data` symlink (the file itself, a symlink through
/// `..data`, never changes). A file that is a symlink elsewhere is watched at its target's directory too.
/// Events are debounced: <see cref="Changed"/> fires once the directories have been quiet for the
/// debounce interval. Whether anything really changed is for the caller to decide (it compares digests).
/// </summary>
public sealed class RulesWatcher : IDisposable
{
    private readonly ILogger<RulesWatcher> _log;
    private readonly TimeSpan _debounce;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, (FileSystemWatcher Watcher, HashSet<string> Names)> _dirs = new(StringComparer.Ordinal);
    private readonly Timer _timer;
    private string? _what;
    private bool _disposed;

    public RulesWatcher(IOptions<FwdOptions> options, ILogger<RulesWatcher> log)
    {
        _log = log;
        _debounce = options.Value.Debounce;
        _timer = new Timer(_ => Fire());
    }

    /// <summary>Raised (on a pool thread) after a burst of relevant events; the argument names what changed.</summary>
    public event Action<string>? Changed;

    public IReadOnlyList<string> Directories
    {
        get
        {
            lock (_lock)
                return _dirs.Keys.Order().ToList();
        }
    }

    /// <summary>Watches exactly these files from now on (watches no longer needed are dropped).</summary>
    public void Watch(IEnumerable<string> files)
    {
        var want = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        void Add(string path)
        {
            string full = Path.GetFullPath(path);
            string dir = Path.GetDirectoryName(full) ?? "/";
            if (!want.TryGetValue(dir, out var names))
                want[dir] = names = new HashSet<string>(StringComparer.Ordinal);
            names.Add(Path.GetFileName(full));
        }

        foreach (string f in files)
        {
            Add(f);
            string dir = Path.GetDirectoryName(Path.GetFullPath(f)) ?? "/";
            string? target = FinalTarget(f);
            // A target inside the same directory tree (a ConfigMap's ..data/..2024_xx) is covered by the
            // ..data events; its timestamped directory is replaced on every update, so it is not watched.
            if (target is not null && !target.StartsWith(dir + "/", StringComparison.Ordinal))
                Add(target);
        }

        lock (_lock)
        {
            if (_disposed)
                return;
            foreach (string dir in _dirs.Keys.Where(d => !want.ContainsKey(d)).ToList())
            {
                _dirs[dir].Watcher.Dispose();
                _dirs.Remove(dir);
                _log.LogDebug("stop watching {Dir}", dir);
            }
            foreach (var (dir, names) in want)
            {
                if (_dirs.TryGetValue(dir, out var existing))
                {
                    existing.Names.Clear();
                    existing.Names.UnionWith(names);
                    continue;
                }
                if (!Directory.Exists(dir))
                {
                    _log.LogWarning("cannot watch {Dir}: no such directory; changes there are seen on SIGHUP only", dir);
                    continue;
                }
                try
                {
                    var w = new FileSystemWatcher(dir)
                    {
                        IncludeSubdirectories = false,
                        NotifyFilter = NotifyFilters.FileName | NotifyFilters.DirectoryName | NotifyFilters.LastWrite |
                                       NotifyFilters.Size | NotifyFilters.CreationTime,
                        InternalBufferSize = 64 * 1024,
                    };
                    w.Changed += (_, e) => OnEvent(dir, e.Name, null);
                    w.Created += (_, e) => OnEvent(dir, e.Name, null);
                    w.Deleted += (_, e) => OnEvent(dir, e.Name, null);
                    w.Renamed += (_, e) => OnEvent(dir, e.Name, e.OldName);
                    w.Error += (_, e) => OnError(dir, e.GetException());
                    w.EnableRaisingEvents = true;
                    _dirs[dir] = (w, new HashSet<string>(names, StringComparer.Ordinal));
                    _log.LogDebug("watching {Dir} for {Names}", dir, string.Join(", ", names));
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
                {
                    _log.LogWarning("cannot watch {Dir}: {Error}; changes there are seen on SIGHUP only", dir, e.Message);
                }
            }
        }
    }

    private static string? FinalTarget(string path)
    {
        try
        {
            return new FileInfo(path).ResolveLinkTarget(returnFinalTarget: true)?.FullName;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private void OnEvent(string dir, string? name, string? oldName)
    {
        lock (_lock)
        {
            if (_disposed || !_dirs.TryGetValue(dir, out var entry))
                return;
            bool relevant = Relevant(entry.Names, name) || Relevant(entry.Names, oldName);
            if (!relevant)
                return;
            _what = name ?? oldName;
            _timer.Change(_debounce, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>A watched file, or Kubernetes' atomic-writer entries (..data, ..2024_01_01...).</summary>
    private static bool Relevant(HashSet<string> names, string? name) =>
        name is not null && (names.Contains(name) || name.StartsWith("..", StringComparison.Ordinal));

    private void OnError(string dir, Exception e)
    {
        // Typically an inotify queue overflow: events were lost, so read the files again.
        _log.LogWarning("watching {Dir}: {Error}; reading the rules again", dir, e.Message);
        lock (_lock)
        {
            if (_disposed)
                return;
            _what = dir;
            _timer.Change(_debounce, Timeout.InfiniteTimeSpan);
        }
    }

    private void Fire()
    {
        string? what;
        lock (_lock)
        {
            if (_disposed)
                return;
            what = _what;
        }
        Changed?.Invoke(what ?? "?");
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
                return;
            _disposed = true;
            foreach (var (w, _) in _dirs.Values)
                w.Dispose();
            _dirs.Clear();
        }
        _timer.Dispose();
    }
}
