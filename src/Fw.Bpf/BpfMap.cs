using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Fw.Bpf;

/// <summary>
/// A BPF map by fd: typed element access over <c>unmanaged</c> structs, batch writes, and per-CPU
/// reads with the kernel's stride. The fd is borrowed from a bpf_object or owned through a handle.
/// </summary>
public sealed unsafe class BpfMap : IDisposable
{
    private static readonly Lazy<int> s_possibleCpus = new(() =>
        BpfException.Check(Interop.libbpf_num_possible_cpus(), "count possible CPUs"));

    // Keeps the object or fd alive while the map is in use; disposed with the map when owned.
    private readonly SafeHandle? _owner;
    private readonly bool _owns;

    public BpfMap(string name, int fd, SafeHandle? owner, bool ownsHandle = false)
    {
        Name = name;
        Fd = fd;
        _owner = owner;
        _owns = ownsHandle;
    }

    public string Name { get; }
    public int Fd { get; }

    /// <summary>Update flags: BPF_ANY (create or replace), BPF_NOEXIST (create only), BPF_EXIST (replace only).</summary>
    public const ulong Any = 0, NoExist = 1, Exist = 2;

    public static int PossibleCpus => s_possibleCpus.Value;

    /// <summary>BPF map types fw creates itself (enum bpf_map_type).</summary>
    public enum MapType : uint
    {
        Array = 2,
        PercpuArray = 6,
        LpmTrie = 11,
    }

    /// <summary>BPF_F_NO_PREALLOC: an LPM trie needs it.</summary>
    public const uint NoPrealloc = 1;

    /// <summary>A new map (bpf_map_create), owned by the returned object until pinned and disposed.</summary>
    public static BpfMap Create(MapType type, string name, int keySize, int valueSize, int maxEntries, uint flags = 0)
    {
        var opts = new Interop.MapCreateOpts { Sz = (nuint)sizeof(Interop.MapCreateOpts), MapFlags = flags };
        int fd = Interop.bpf_map_create((uint)type, name, (uint)keySize, (uint)valueSize, (uint)maxEntries, opts);
        if (fd < 0)
            throw new BpfException($"create map {name} ({maxEntries:N0} entries)", Marshal.GetLastPInvokeError());
        var h = new FdHandle(fd);
        return new BpfMap(name, fd, h, ownsHandle: true);
    }

    /// <summary>
    /// Every key, by BPF_MAP_GET_NEXT_KEY one syscall a key (<see cref="ReadAllByKey"/> reads an LPM trie batched), at most <paramref name="limit"/>.
    /// A key deleted while it reads may make the walk start over (the kernel's rule for a missing key): the caller
    /// bounds it, and keys are distinct in what it returns.
    /// </summary>
    public List<TKey> Keys<TKey>(int limit)
        where TKey : unmanaged
    {
        var keys = new List<TKey>();
        var seen = new HashSet<TKey>(BytewiseComparer<TKey>.Instance);
        TKey cur = default, next = default;
        bool first = true;
        while (keys.Count < limit)
        {
            int rc = Interop.bpf_map_get_next_key(Fd, first ? null : &cur, &next);
            if (rc != 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno == 2 /* ENOENT: the end */)
                    break;
                throw new BpfException($"walk {Name}", errno);
            }
            first = false;
            if (!seen.Add(next))
                break;   // the walk started over (a key was deleted under it): what was read is what there is
            keys.Add(next);
            cur = next;
        }
        GC.KeepAlive(_owner);
        return keys;
    }

    /// <summary>
    /// Keys compared as the kernel compares them, byte by byte. The default equality of a struct with a fixed
    /// buffer (struct fw_set_key's address) compares the buffer's first element only: two keys of one prefix length
    /// whose addresses share their first byte were taken for one, which ended a walk early.
    /// </summary>
    private sealed class BytewiseComparer<T> : IEqualityComparer<T>
        where T : unmanaged
    {
        public static readonly BytewiseComparer<T> Instance = new();

        public bool Equals(T x, T y) =>
            MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in x)).SequenceEqual(MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in y)));

        public int GetHashCode(T obj)
        {
            var h = new HashCode();
            h.AddBytes(MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in obj)));
            return h.ToHashCode();
        }
    }

    public static BpfMap OpenPinned(string path)
    {
        var h = FdHandle.OpenPinned(path);
        return new BpfMap(Path.GetFileName(path), h.Fd, h, ownsHandle: true);
    }

    /// <summary>The map of id <paramref name="id"/> (as an array of maps holds it), opened by id.</summary>
    public static BpfMap OpenById(uint id, string name)
    {
        var h = new FdHandle(BpfException.CheckFd(Interop.bpf_map_get_fd_by_id(id), $"open map {id} ({name})"));
        return new BpfMap(name, h.Fd, h, ownsHandle: true);
    }

    /// <summary>The map's max_entries as the kernel created it (bpf_map_info).</summary>
    public uint MaxEntries => Info(4);

    /// <summary>The map's id: the same map, whoever opens it, for as long as it exists (bpf_map_info).</summary>
    public uint Id => Info(1);

    private uint Info(int field)
    {
        var info = stackalloc uint[6];   // type, id, key_size, value_size, max_entries, map_flags
        uint len = 6 * sizeof(uint);
        BpfException.CheckFd(Interop.bpf_obj_get_info_by_fd(Fd, info, ref len), $"read {Name}'s info");
        GC.KeepAlive(_owner);
        return info[field];
    }

    public void Pin(string path)
    {
        BpfException.CheckFd(Interop.bpf_obj_pin(Fd, path), $"pin {Name} at {path}");
        GC.KeepAlive(_owner);
    }

    public void Dispose()
    {
        if (_owns)
            _owner?.Dispose();
    }

    /// <summary>Writes one element of a per-CPU map: one value per possible CPU.</summary>
    public void UpdatePerCpu<TKey, TValue>(in TKey key, ReadOnlySpan<TValue> perCpu)
        where TKey : unmanaged
        where TValue : unmanaged
    {
        int cpus = PossibleCpus;
        if (perCpu.Length != cpus)
            throw new ArgumentException($"{cpus} values expected, one per possible CPU");
        int stride = (sizeof(TValue) + 7) & ~7;
        var raw = new byte[stride * cpus];
        fixed (byte* v = raw)
        fixed (TKey* k = &key)
        {
            for (int c = 0; c < cpus; c++)
                Unsafe.WriteUnaligned(v + c * stride, perCpu[c]);
            BpfException.CheckFd(Interop.bpf_map_update_elem(Fd, k, v, Interop.BpfAny), $"update {Name}");
        }
        GC.KeepAlive(_owner);
    }

    public void Update<TKey, TValue>(in TKey key, in TValue value, ulong flags = Interop.BpfAny)
        where TKey : unmanaged
        where TValue : unmanaged
    {
        fixed (TKey* k = &key)
        fixed (TValue* v = &value)
            BpfException.CheckFd(Interop.bpf_map_update_elem(Fd, k, v, flags), $"update {Name}");
        GC.KeepAlive(_owner);
    }

    public bool TryLookup<TKey, TValue>(in TKey key, out TValue value)
        where TKey : unmanaged
        where TValue : unmanaged => TryRead(key, out value, &Interop.bpf_map_lookup_elem, "lookup");

    public TValue Lookup<TKey, TValue>(in TKey key)
        where TKey : unmanaged
        where TValue : unmanaged =>
        TryLookup<TKey, TValue>(key, out var v) ? v : throw new BpfException($"lookup {Name}", 2);

    public bool Delete<TKey>(in TKey key)
        where TKey : unmanaged
    {
        fixed (TKey* k = &key)
        {
            int rc = Interop.bpf_map_delete_elem(Fd, k);
            GC.KeepAlive(_owner);
            if (rc == 0)
                return true;
            int errno = Marshal.GetLastPInvokeError();
            return errno == 2 ? false : throw new BpfException($"delete from {Name}", errno);
        }
    }

    /// <summary>
    /// Reads the element of <paramref name="key"/> and deletes it in one step (BPF_MAP_LOOKUP_AND_DELETE_ELEM): no
    /// writer can change it in between. False when the key is not there.
    /// </summary>
    public bool TryLookupAndDelete<TKey, TValue>(in TKey key, out TValue value)
        where TKey : unmanaged
        where TValue : unmanaged => TryRead(key, out value, &Interop.bpf_map_lookup_and_delete_elem, "lookup and delete in");

    // An element read (and perhaps deleted) by key; false when the key is not there (ENOENT).
    private bool TryRead<TKey, TValue>(in TKey key, out TValue value, delegate*<int, void*, void*, int> call, string what)
        where TKey : unmanaged
        where TValue : unmanaged
    {
        value = default;
        fixed (TKey* k = &key)
        fixed (TValue* v = &value)
        {
            int rc = call(Fd, k, v);
            GC.KeepAlive(_owner);
            if (rc == 0)
                return true;
            int errno = Marshal.GetLastPInvokeError();
            return errno == 2 /* ENOENT */ ? false : throw new BpfException($"{what} {Name}", errno);
        }
    }

    /// <summary>
    /// Every element of a hash map, read with BPF_MAP_LOOKUP_BATCH a few thousand at a time (a bucket run each), at
    /// most <paramref name="limit"/> of them (a bound for the caller: the map's max_entries). Elements written while
    /// it reads may or may not come; none comes twice. Memory stays one chunk, whatever the map's size.
    /// </summary>
    public IEnumerable<(TKey Key, TValue Value)> Entries<TKey, TValue>(int limit)
        where TKey : unmanaged
        where TValue : unmanaged => Batches<TKey, TValue, uint>(limit);   // a hash map's position: a bucket index

    /// <summary>
    /// BPF_MAP_LOOKUP_BATCH from the map's start, <typeparamref name="TCursor"/> being the kernel's batch position: a
    /// bucket index for hash maps, a key for the generic batch ops (arrays, LPM tries).
    /// </summary>
    private IEnumerable<(TKey Key, TValue Value)> Batches<TKey, TValue, TCursor>(int limit)
        where TKey : unmanaged
        where TValue : unmanaged
        where TCursor : unmanaged
    {
        int chunk = Math.Clamp(limit, 1, 8192), read = 0;
        var keys = new TKey[chunk];
        var values = new TValue[chunk];
        TCursor cursor = default;
        bool first = true, done = false;
        while (!done && read < limit)
        {
            int count = NextBatch(keys, values, Math.Min(keys.Length, limit - read), ref cursor, first, out done, out bool grow);
            if (grow)
            {
                if (keys.Length >= 1 << 20)
                    throw new BpfException($"read {Name}: a bucket holds over {keys.Length:N0} elements", 28);
                keys = new TKey[keys.Length * 2];
                values = new TValue[values.Length * 2];
                continue;
            }
            first = false;
            for (int i = 0; i < count && read < limit; i++, read++)
                yield return (keys[i], values[i]);
        }
    }

    /// <summary>Every element (see <see cref="Entries"/>), in a list.</summary>
    public List<(TKey Key, TValue Value)> ReadAll<TKey, TValue>(int limit)
        where TKey : unmanaged
        where TValue : unmanaged => Entries<TKey, TValue>(limit).ToList();

    // One BPF_MAP_LOOKUP_BATCH: the elements read; done at the map's end (ENOENT); grow when one bucket holds more
    // elements than the buffers (ENOSPC: nothing was read, the cursor stays).
    private int NextBatch<TKey, TValue, TCursor>(TKey[] keys, TValue[] values, int max, ref TCursor cursor, bool first, out bool done, out bool grow)
        where TKey : unmanaged
        where TValue : unmanaged
        where TCursor : unmanaged
    {
        var opts = new Interop.BatchOpts { Sz = (nuint)sizeof(Interop.BatchOpts) };
        uint count = (uint)max;
        TCursor inBatch = cursor, outBatch = default;
        int rc, errno;
        fixed (TKey* k = keys)
        fixed (TValue* v = values)
        {
            rc = Interop.bpf_map_lookup_batch(Fd, first ? null : &inBatch, &outBatch, k, v, ref count, opts);
            errno = rc < 0 ? Marshal.GetLastPInvokeError() : 0;
        }
        GC.KeepAlive(_owner);
        grow = rc < 0 && errno == 28 /* ENOSPC */;
        done = rc < 0 && errno == 2 /* ENOENT: these were the last */;
        if (grow)
            return 0;
        if (rc < 0 && !done)
            throw new BpfException($"read {Name}", errno);
        cursor = outBatch;
        return (int)count;
    }

    /// <summary>Writes many elements with BPF_MAP_UPDATE_BATCH, in chunks that keep the kernel's copies small.</summary>
    public void UpdateBatch<TKey, TValue>(ReadOnlySpan<TKey> keys, ReadOnlySpan<TValue> values)
        where TKey : unmanaged
        where TValue : unmanaged
    {
        var (written, errno) = TryUpdateBatch(keys, values);
        if (errno != 0)
            throw new BpfException($"update {Name} ({written:N0} of {keys.Length:N0} elements written)", errno, LibbpfLog.TakeRecent());
    }

    /// <summary>
    /// Every element of a map whose batch position is a key (the kernel's generic batch ops: arrays, LPM tries; not
    /// hash maps, see <see cref="Entries"/>), with BPF_MAP_LOOKUP_BATCH a few thousand at a time, at most
    /// <paramref name="limit"/>. An element written or deleted while it reads may or may not come.
    /// </summary>
    public List<(TKey Key, TValue Value)> ReadAllByKey<TKey, TValue>(int limit)
        where TKey : unmanaged
        where TValue : unmanaged => Batches<TKey, TValue, TKey>(limit).ToList();

    /// <summary>
    /// Writes elements with BPF_MAP_UPDATE_BATCH in order until one fails; returns how many were written and the
    /// failure's errno (0: all were).
    /// </summary>
    public (int Written, int Errno) TryUpdateBatch<TKey, TValue>(ReadOnlySpan<TKey> keys, ReadOnlySpan<TValue> values)
        where TKey : unmanaged
        where TValue : unmanaged
    {
        if (keys.Length != values.Length)
            throw new ArgumentException("keys and values differ in length");
        fixed (TKey* k = keys)
        fixed (TValue* v = values)
        {
            TKey* kp = k;
            TValue* vp = v;
            return InChunks(keys.Length, (int at, ref uint count, Interop.BatchOpts opts) =>
                Interop.bpf_map_update_batch(Fd, kp + at, vp + at, ref count, opts));
        }
    }

    /// <summary>
    /// Deletes elements with BPF_MAP_DELETE_BATCH in order until one fails (ENOENT: it was not there); returns how
    /// many were deleted and the failure's errno (0: all were).
    /// </summary>
    public (int Deleted, int Errno) TryDeleteBatch<TKey>(ReadOnlySpan<TKey> keys)
        where TKey : unmanaged
    {
        fixed (TKey* k = keys)
        {
            TKey* kp = k;
            return InChunks(keys.Length, (int at, ref uint count, Interop.BatchOpts opts) =>
                Interop.bpf_map_delete_batch(Fd, kp + at, ref count, opts));
        }
    }

    /// <summary>One batch call on elements [at, at + count): count in, how many it did out; negative: failed.</summary>
    private delegate int BatchCall(int at, ref uint count, Interop.BatchOpts opts);

    /// <summary>
    /// <paramref name="length"/> elements through <paramref name="call"/> in chunks of 16,384 (the kernel copies a
    /// batch in one allocation), in order until one fails: how many were done and the failure's errno (0: all were).
    /// </summary>
    private (int Done, int Errno) InChunks(int length, BatchCall call)
    {
        const int Chunk = 16384;
        var opts = new Interop.BatchOpts { Sz = (nuint)sizeof(Interop.BatchOpts) };
        int done = 0;
        try
        {
            while (done < length)
            {
                int n = Math.Min(Chunk, length - done);
                uint count = (uint)n;
                int rc = call(done, ref count, opts);
                if (rc < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    return (done + (int)Math.Min(count, (uint)n), errno != 0 ? errno : -rc);
                }
                done += n;
            }
            return (done, 0);
        }
        finally
        {
            GC.KeepAlive(_owner);
        }
    }

    /// <summary>Raw batch write for values whose size is only known at run time (fw_bitmaps rows).</summary>
    public void UpdateBatchRaw(ReadOnlySpan<uint> keys, ReadOnlySpan<byte> values, int valueSize)
    {
        const int Chunk = 4096;
        var opts = new Interop.BatchOpts { Sz = (nuint)sizeof(Interop.BatchOpts) };
        for (int i = 0; i < keys.Length; i += Chunk)
        {
            int n = Math.Min(Chunk, keys.Length - i);
            fixed (uint* k = keys.Slice(i, n))
            fixed (byte* v = values.Slice(i * valueSize, n * valueSize))
            {
                uint count = (uint)n;
                CheckBatch(Interop.bpf_map_update_batch(Fd, k, v, ref count, opts), i + (int)count, keys.Length);
            }
        }
        GC.KeepAlive(_owner);
    }

    /// <summary>On failure the kernel reports how many elements of the batch it wrote before the one that failed.</summary>
    private void CheckBatch(int rc, int written, int total)
    {
        if (rc < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new BpfException($"update {Name} ({written:N0} of {total:N0} elements written)", errno != 0 ? errno : -rc, LibbpfLog.TakeRecent());
        }
    }

    /// <summary>ARRAY elements (pages) holding items, perPage to an element; at least one: a map cannot be empty.</summary>
    public static int Pages(int items, int perPage) => Math.Max(1, (items + perPage - 1) / perPage);

    /// <summary>
    /// Writes items into an ARRAY whose elements are pages of perPage items (keys 0, 1, ...) with
    /// BPF_MAP_UPDATE_BATCH: whole pages straight from items, the last one padded with zeroes. No
    /// items writes nothing (the map stays zeroed).
    /// </summary>
    public void UpdatePages<T>(ReadOnlySpan<T> items, int perPage)
        where T : unmanaged
    {
        if (items.IsEmpty)
            return;
        int pageBytes = perPage * sizeof(T), full = items.Length / perPage, pages = Pages(items.Length, perPage);
        var keys = new uint[pages];
        for (int i = 0; i < pages; i++)
            keys[i] = (uint)i;
        var bytes = MemoryMarshal.AsBytes(items);
        if (full > 0)
            UpdateBatchRaw(keys.AsSpan(0, full), bytes[..(full * pageBytes)], pageBytes);
        if (pages > full)
        {
            var last = new byte[pageBytes];
            bytes[(full * pageBytes)..].CopyTo(last);
            UpdateBatchRaw(keys.AsSpan(full), last, pageBytes);
        }
    }

    /// <summary>Reads one element of a per-CPU map: one value per possible CPU.</summary>
    public TValue[] LookupPerCpu<TKey, TValue>(in TKey key)
        where TKey : unmanaged
        where TValue : unmanaged
    {
        int cpus = PossibleCpus;
        int stride = (sizeof(TValue) + 7) & ~7;
        var raw = new byte[stride * cpus];
        fixed (TKey* k = &key)
        fixed (byte* v = raw)
        {
            BpfException.CheckFd(Interop.bpf_map_lookup_elem(Fd, k, v), $"lookup {Name}");
            var result = new TValue[cpus];
            for (int c = 0; c < cpus; c++)
                result[c] = Unsafe.ReadUnaligned<TValue>(v + c * stride);
            GC.KeepAlive(_owner);
            return result;
        }
    }
}
