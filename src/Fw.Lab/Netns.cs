using Fw.Bpf;
using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.ExceptionServices;

namespace Fw.Lab;

/// <summary>What a command printed and how it ended.</summary>
public sealed record ExecResult(string Command, int ExitCode, string Stdout, string Stderr)
{
    public bool Ok => ExitCode == 0;

    /// <summary>This result, or a <see cref="LabException"/> carrying the command and its stderr when it failed.</summary>
    public ExecResult Check() =>
        Ok ? this : throw new LabException($"{Command} (exit {ExitCode})", Stderr.Trim().Length > 0 ? Stderr.Trim() : Stdout.Trim());
}

/// <summary>
/// A named network namespace (<c>/run/netns/NAME</c>, as <c>ip netns</c> makes them). Code runs inside it in
/// two ways: <see cref="Run{T}"/> calls a delegate on a dedicated thread that has entered the namespace
/// (setns), so sockets it creates, <c>if_nametoindex</c> and fw's own <c>Firewall.Attach</c> work there;
/// <see cref="Exec"/> runs a program through <c>nsenter --net</c>. Both enter only the network namespace:
/// <c>ip netns exec</c> would also remount /sys and hide the host's bpffs, where fw pins its state.
/// </summary>
public sealed class Netns
{
    /// <summary>How long <see cref="Run{T}"/> and <see cref="Exec"/> wait unless told otherwise.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(60);

    public Netns(string name) => Name = name;

    public string Name { get; }

    public string Path => $"/run/netns/{Name}";

    public bool Exists => File.Exists(Path);

    public override string ToString() => Name;

    /// <summary>
    /// Runs <paramref name="body"/> on a new thread that has entered this namespace, and returns its result
    /// (its exception is rethrown here). Sockets keep the namespace they were created in, so a socket made
    /// inside can be used from any thread afterwards. Keep the body synchronous: code after an <c>await</c>
    /// may continue on a thread-pool thread, in the host's namespace. Waits at most <paramref name="timeout"/>.
    /// </summary>
    public T Run<T>(Func<T> body, TimeSpan? timeout = null)
    {
        T result = default!;
        ExceptionDispatchInfo? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                Enter();
                result = body();
            }
            catch (Exception e)
            {
                error = ExceptionDispatchInfo.Capture(e);
            }
        })
        {
            IsBackground = true,
            Name = $"netns {Name}",
        };
        thread.Start();
        var wait = timeout ?? DefaultTimeout;
        if (!thread.Join(wait))
            throw new TimeoutException($"{Name}: the code run inside did not finish within {wait.TotalSeconds:0.#} s");
        error?.Throw();
        return result;
    }

    public void Run(Action body, TimeSpan? timeout = null) => Run<object?>(() =>
    {
        body();
        return null;
    }, timeout);

    /// <summary>A socket created inside this namespace.</summary>
    public Socket Socket(AddressFamily family, SocketType type, ProtocolType protocol) =>
        Run(() => new Socket(family, type, protocol));

    /// <summary>The interface's index in this namespace.</summary>
    public int Ifindex(string iface) => Run(() => NetInterface.Index(iface));

    /// <summary>Runs a program inside this namespace: <c>nsenter --net=/run/netns/NAME -- ARGS</c>.</summary>
    public ExecResult Exec(IEnumerable<string> args, string? stdin = null, TimeSpan? timeout = null) =>
        Command.Run("nsenter", [$"--net={Path}", "--", .. args], stdin, timeout);

    public ExecResult Exec(params string[] args) => Exec(args, null, null);

    /// <summary>Runs <c>ip -batch -</c> inside this namespace with one command a line; throws on the first failure.</summary>
    public void IpBatch(IEnumerable<string> lines) =>
        Exec(["ip", "-batch", "-"], string.Join('\n', lines) + "\n").Check();

    private void Enter()
    {
        using var ns = File.OpenHandle(Path, FileMode.Open, FileAccess.Read);
        BpfException.CheckFd(Interop.setns((int)ns.DangerousGetHandle(), Interop.CloneNewNet), $"enter network namespace {Name}");
    }
}

/// <summary>Runs programs with a bound wait: a program that outlives its timeout is killed.</summary>
public static class Command
{
    public static ExecResult Run(string file, IEnumerable<string> args, string? stdin = null, TimeSpan? timeout = null)
    {
        var argList = args.ToList();
        string text = string.Join(' ', [file, .. argList]);
        var psi = new ProcessStartInfo(file, argList)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdin is not null,
            UseShellExecute = false,
        };
        using var p = Process.Start(psi) ?? throw new LabException($"start {text}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            p.StandardInput.Write(stdin);
            p.StandardInput.Close();
        }
        var wait = timeout ?? Netns.DefaultTimeout;
        if (!p.WaitForExit(wait))
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
            throw new TimeoutException($"{text}: still running after {wait.TotalSeconds:0.#} s; killed");
        }
        p.WaitForExit();
        return new ExecResult(text, p.ExitCode, stdout.Result, stderr.Result);
    }

    public static ExecResult Run(string file, params string[] args) => Run(file, args, null, null);
}
