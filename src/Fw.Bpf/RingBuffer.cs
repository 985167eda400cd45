using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Fw.Bpf;

/// <summary>
/// A BPF_MAP_TYPE_RINGBUF read with libbpf's ring_buffer__new / ring_buffer__poll (and __consume, for records
/// submitted without a wakeup): each record the programs submitted, in order, handed to a callback as a span valid
/// only during the call. One consumer per ring.
/// </summary>
public sealed unsafe class RingBuffer : IDisposable
{
    private readonly BpfMap _map;
    private nint _rb;
    private GCHandle _self;
    private Action<ReadOnlySpan<byte>>? _onRecord;
    private Exception? _failed;

    public RingBuffer(BpfMap map)
    {
        _map = map;
        _self = GCHandle.Alloc(this);
        _rb = Interop.ring_buffer__new(map.Fd, &OnSample, GCHandle.ToIntPtr(_self), 0);
        if (_rb == 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            _self.Free();
            throw new BpfException($"read the ring buffer {map.Name}", errno != 0 ? errno : 22, LibbpfLog.TakeRecent());
        }
    }

    /// <summary>
    /// Waits up to <paramref name="timeout"/> for records and hands each to <paramref name="onRecord"/>; returns how
    /// many. An exception from the callback stops the poll and is thrown here.
    /// </summary>
    public int Poll(TimeSpan timeout, Action<ReadOnlySpan<byte>> onRecord)
    {
        ObjectDisposedException.ThrowIf(_rb == 0, this);
        _onRecord = onRecord;
        _failed = null;
        int n = Interop.ring_buffer__poll(_rb, (int)Math.Clamp(timeout.TotalMilliseconds, 0, int.MaxValue));
        // Producers may submit without waking the reader (BPF_RB_NO_WAKEUP): read what is there either way.
        if (n == 0 && _failed is null)
            n = Interop.ring_buffer__consume(_rb);
        GC.KeepAlive(_map);
        _onRecord = null;
        if (_failed is { } e)
            ExceptionDispatchInfoThrow(e);
        if (n < 0 && n != -4 /* EINTR */)
            throw new BpfException($"poll the ring buffer {_map.Name}", -n);
        return Math.Max(n, 0);
    }

    private static void ExceptionDispatchInfoThrow(Exception e) => System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e).Throw();

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int OnSample(nint ctx, void* data, nuint size)
    {
        var self = (RingBuffer)GCHandle.FromIntPtr(ctx).Target!;
        try
        {
            self._onRecord?.Invoke(new ReadOnlySpan<byte>(data, checked((int)size)));
            return 0;
        }
        catch (Exception e)
        {
            self._failed = e;
            return -1;   // stops this poll; the error is thrown from Poll
        }
    }

    public void Dispose()
    {
        if (_rb != 0)
        {
            Interop.ring_buffer__free(_rb);
            _rb = 0;
            _self.Free();
        }
    }
}
