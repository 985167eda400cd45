using System.Diagnostics;
using Fw.Kernel;
using Fw.Traffic;
using Fw.Bpf;

namespace Fw.Bench.Throughput;

/// <summary>
/// The traffic: one thread per CPU, each pinned there, with its own <see cref="PacketSender"/> (an AF_PACKET TX
/// ring with qdisc bypass, made inside the bench namespace) on the generator's end of the veth pair, sending the
/// mix's templates in turn by weight, in chunks of <see cref="Chunk"/> frames. Each thread's frames go to the veth
/// queue of its CPU, and the receiving end's softirq (the system under test) runs on that CPU after each frame,
/// so a thread's CPU time per frame is the whole path's cost: AF_PACKET, veth, the receive path, the system.
/// </summary>
public sealed class Generator(BenchNet net, int threads)
{
    public const int Chunk = 4096;
    public const int RingFrames = 256;
    private const long WarmupFrames = 20_000;

    public int Threads => threads;

    /// <summary>
    /// Sends <paramref name="mix"/>: a warm-up per thread (not counted), then frames for <paramref name="duration"/>.
    /// <paramref name="progId"/> (the attached XDP program's kernel id, or null) is read for the BPF statistics
    /// before and after; the caller keeps them enabled (<see cref="ProgramStats.Enable"/>).
    /// </summary>
    public Rate Measure(Mix mix, TimeSpan duration, uint? progId)
    {
        var sent = new long[threads];
        var cpuNs = new long[threads];
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
                    net.Ns.Run(() => Work(cpu, mix, order, () => { signalled[cpu] = true; ready.Signal(); }, go, stop.Token, ref sent[cpu], ref cpuNs[cpu]),
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
        (ulong Ns, ulong Runs) prog0 = default, prog1 = default;
        long soft0 = 0;
        var wall = new Stopwatch();
        try
        {
            if (!ready.Wait(TimeSpan.FromSeconds(60)))
                throw new TimeoutException("generator threads did not start");
            rx0 = net.RxPackets();
            if (progId is uint id0)
                prog0 = ProgramStats.Read(id0);
            soft0 = SoftirqThreads.CpuNs(threads);
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
        long soft = SoftirqThreads.CpuNs(threads) - soft0;
        if (progId is uint id1)
            prog1 = ProgramStats.Read(id1);
        rx1 = net.RxPackets();
        ulong frames = (ulong)sent.Sum();
        double busyNs = cpuNs.Sum() + soft;
        ulong runs = prog1.Runs - prog0.Runs;
        double? progNs = progId is null ? null : runs == 0 ? double.NaN : (double)(prog1.Ns - prog0.Ns) / runs;
        return new Rate(frames, rx1 - rx0, wall.Elapsed.TotalSeconds, busyNs / 1e9, busyNs / frames, progNs, runs);
    }

    private void Work(int cpu, Mix mix, int[] order, Action ready, ManualResetEventSlim go, CancellationToken stop, ref long sent, ref long cpuNs)
    {
        PacketSender.PinThisThread(cpu);
        int longest = mix.Parts.Max(p => p.Frame.Length);
        using var sender = new PacketSender(net.GenIfindex, longest, RingFrames, seed: (ulong)cpu << 48);
        if (PacketSender.CurrentCpu != cpu)
            throw new InvalidOperationException($"generator thread runs on CPU {PacketSender.CurrentCpu}, pinned to {cpu}");
        foreach (var p in mix.Parts)
            sender.Send(p.Frame, p.Vary, WarmupFrames / mix.Parts.Count);   // pages, caches, the JIT
        ready();
        go.Wait();
        for (long k = cpu; !stop.IsCancellationRequested; k++)
        {
            var part = mix.Parts[order[k % order.Length]];
            var r = sender.Send(part.Frame, part.Vary, Chunk, stop);
            if (r.Refused > 0)
                throw new InvalidOperationException($"{net.GenIf} refused {r.Refused} frame(s): the receiving end did not keep up");
            sent += r.Frames;
            cpuNs += r.CpuNs;
        }
    }
}

/// <summary>
/// The CPU time of the ksoftirqd threads of CPUs 0 to n-1 (/proc/PID/schedstat, ns): receive work the kernel
/// deferred from the sending threads to them belongs to the whole path too.
/// </summary>
public static class SoftirqThreads
{
    private static readonly Dictionary<int, int> s_pids = Find();

    private static Dictionary<int, int> Find()
    {
        var pids = new Dictionary<int, int>();
        foreach (string dir in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid))
                continue;
            try
            {
                string comm = File.ReadAllText(Path.Combine(dir, "comm")).Trim();
                if (comm.StartsWith("ksoftirqd/") && int.TryParse(comm["ksoftirqd/".Length..], out int cpu))
                    pids[cpu] = pid;
            }
            catch (IOException)
            {
                // gone meanwhile
            }
        }
        return pids;
    }

    public static long CpuNs(int cpus)
    {
        long total = 0;
        for (int c = 0; c < cpus; c++)
        {
            if (!s_pids.TryGetValue(c, out int pid))
                throw new InvalidOperationException($"no ksoftirqd/{c} thread found");
            total += long.Parse(File.ReadAllText($"/proc/{pid}/schedstat").Split(' ')[0]);
        }
        return total;
    }
}
