using System.Diagnostics;
using Fw.Traffic;

namespace Fw.Bench.Throughput;

/// <summary>
/// What one measurement saw. The rates are per second of the generator's send loop as the kernel timed it
/// (BPF_PROG_RUN's own duration; time the threads were scheduled out, and each call's setup and teardown, not
/// counted), times the thread count: on a machine shared with other work this is the cost, not the share of
/// CPU the benchmark got. <see cref="WallRxPps"/> is the plain received-per-wall-second figure, for reference.
/// </summary>
public readonly record struct Rate(double SentPps, double RxPps, double WallRxPps, ulong Sent, ulong Rx, double KernelSeconds, double WallSeconds);

/// <summary>
/// The live-frames generator: one thread per CPU, each pinned there (sched_setaffinity) and inside the bench
/// namespace, sending the mix's templates in turn by weight, in calls of about <see cref="CallSeconds"/> each
/// (a BPF_PROG_RUN call has a fixed setup cost of milliseconds to tens of milliseconds on a busy machine).
/// The peer's NAPI (the system under test) runs on the sending CPU after every batch, so each CPU's rate is
/// 1 / (generator cost + receive cost): the bare XDP_DROP rate is the limit of this machine.
/// </summary>
public sealed class Generator(BenchNet net, int threads, int batch)
{
    public const double CallSeconds = 0.2;
    private const int FirstCall = 65_536, MinCall = 16_384, MaxCall = 16_777_216;

    public int Threads => threads;
    public int Batch => batch;

    /// <summary>
    /// Sends <paramref name="mix"/>: one warm-up call per thread (not counted), then calls until
    /// <paramref name="duration"/> has passed. Received frames are the interface's rx_packets delta over the counted calls.
    /// </summary>
    public Rate Measure(Mix mix, TimeSpan duration)
    {
        var sent = new long[threads];
        var kernelNs = new double[threads];
        using var stop = new CancellationTokenSource();
        using var ready = new CountdownEvent(threads);
        using var go = new ManualResetEventSlim();
        var errors = new Exception?[threads];
        var signalled = new bool[threads];
        var workers = new Thread[threads];
        var order = mix.Parts.SelectMany((p, i) => Enumerable.Repeat(i, p.Weight)).ToArray();
        for (int t = 0; t < threads; t++)
        {
            int cpu = t;
            workers[t] = new Thread(() =>
            {
                try
                {
                    net.Ns.Run(() => Work(cpu, mix, order, () => { signalled[cpu] = true; ready.Signal(); }, go, stop.Token, ref sent[cpu], ref kernelNs[cpu]),
                        duration + TimeSpan.FromSeconds(120));
                }
                catch (Exception e)
                {
                    errors[cpu] = e;
                    if (!signalled[cpu])
                        ready.Signal();
                }
            }) { IsBackground = true, Name = $"generator cpu {cpu}" };
            workers[t].Start();
        }
        ulong rx0 = 0, rx1;
        var wall = new Stopwatch();
        try
        {
            if (!ready.Wait(TimeSpan.FromSeconds(60)))
                throw new TimeoutException("generator threads did not start");
            rx0 = net.RxPackets();
            wall.Start();
            go.Set();
            Thread.Sleep(duration);
        }
        finally
        {
            go.Set();
            stop.Cancel();
            foreach (var w in workers)
                w.Join();
            wall.Stop();
            var e = errors.FirstOrDefault(x => x is not null);
            if (e is not null)
                throw new InvalidOperationException($"generator: {e.Message}", e);
        }
        rx1 = net.RxPackets();
        ulong frames = (ulong)sent.Sum();
        double kernel = kernelNs.Sum() / 1e9;
        ulong rx = rx1 - rx0;
        // Per CPU: frames per second of its loop; the threads ran side by side on their own CPUs.
        return new Rate(frames / kernel * threads, rx / kernel * threads, rx / wall.Elapsed.TotalSeconds, frames, rx, kernel, wall.Elapsed.TotalSeconds);
    }

    private void Work(int cpu, Mix mix, int[] order, Action ready, ManualResetEventSlim go, CancellationToken stop, ref long sent, ref double kernelNs)
    {
        LiveFrames.PinThisThread(cpu);
        var gens = mix.Parts.Select(p => new LiveFrames(p.Vary)).ToArray();
        try
        {
            if (LiveFrames.CurrentCpu != cpu)
                throw new InvalidOperationException($"generator thread runs on CPU {LiveFrames.CurrentCpu}, pinned to {cpu}");
            for (int p = 0; p < gens.Length; p++)
                gens[p].Send(net.GenIfindex, mix.Parts[p].Frame, FirstCall / 4, batch);   // warm-up: pages, caches
            ready();
            go.Wait();
            int count = FirstCall;
            for (long k = cpu; !stop.IsCancellationRequested; k++)
            {
                int part = order[k % order.Length];
                var r = gens[part].Send(net.GenIfindex, mix.Parts[part].Frame, count, batch);
                sent += r.Frames;
                kernelNs += r.KernelNs;
                // Size the next call to about CallSeconds of the kernel's loop.
                count = (int)Math.Clamp(CallSeconds * 1e9 / Math.Max(r.KernelNs / r.Frames, 1), MinCall, MaxCall);
            }
        }
        finally
        {
            foreach (var g in gens)
                g.Dispose();
        }
    }
}
