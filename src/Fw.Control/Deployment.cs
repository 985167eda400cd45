using Fw.Bpf;
using Fw.Kernel;
using Fw.Rules;

namespace Fw.Control;

/// <summary>
/// The one way a rules file reaches an interface, for fwctl and fwd alike: check (<see cref="RulesCheck"/>),
/// then attach, reload or apply the checked image (<see cref="Firewall"/>). Front ends print what it returns
/// and the errors it throws: <see cref="FirewallException"/> (the interface's state), <see cref="BpfException"/>
/// (the kernel), IO errors.
/// </summary>
public static class Deployment
{
    public static CheckResult Check(string rulesFile, CheckScope scope = CheckScope.Rules) => RulesCheck.Check(rulesFile, scope);

    /// <summary>What must hold before a change is worth checking rules for: root, and the interface exists.</summary>
    public static void RequireTarget(string iface)
    {
        Firewall.RequireRoot();
        NetInterface.Index(iface);
    }

    /// <param name="classifierObject">Another build's fw.bpf.o (the benchmarks compare builds); null: this one's.</param>
    public static ChangeResult Attach(string iface, CheckResult check, XdpMode mode, string? classifierObject = null) =>
        Firewall.Attach(iface, ImageOf(check), OriginOf(check), mode, classifierObject);

    /// <param name="confirm">Revert by itself unless confirmed in time (fwctl reload --confirm).</param>
    public static ChangeResult Reload(string iface, CheckResult check, ConfirmRequest? confirm = null) =>
        Firewall.Reload(iface, ImageOf(check), OriginOf(check), confirm);

    /// <summary>Keeps a change made with a confirm request.</summary>
    public static PendingConfirm Confirm(string iface) => Firewall.Confirm(iface);

    /// <summary>Undoes a change made with a confirm request now; null when none was pending (or not <paramref name="token"/>'s).</summary>
    public static PendingConfirm? Revert(string iface, string? token = null) => Firewall.Revert(iface, token);

    /// <summary>Makes one interface run the checked ruleset: attach, keep (same digest) or reload.</summary>
    public static Applied Apply(string iface, CheckResult check, XdpMode mode = XdpMode.Auto)
    {
        var image = ImageOf(check);
        if (!Firewall.IsAttached(iface))
            return new Applied(iface, ApplyOutcome.Attached, 0, "", Firewall.Attach(iface, image, OriginOf(check), mode));
        ulong running;
        string runningDigest;
        using (var state = InterfaceState.Open(iface))
        {
            running = state.Meta.Generation;
            runningDigest = state.Meta.DigestHex;
        }
        if (runningDigest == image.Digest())
            return new Applied(iface, ApplyOutcome.Unchanged, running, runningDigest, null);
        return new Applied(iface, ApplyOutcome.Reloaded, running, runningDigest, Firewall.Reload(iface, image, OriginOf(check)));
    }

    public static void Detach(string iface) => Firewall.Detach(iface);

    /// <summary>The checked image; a check with errors throws them (nothing is applied).</summary>
    private static Compiler.MapImage ImageOf(CheckResult check) =>
        check.Ok ? check.Image! : throw new RulesException(check.Diagnostics.Where(d => d.Severity == Severity.Error).ToList());

    private static ImageOrigin OriginOf(CheckResult check) =>
        new(Path.GetFullPath(check.RulesFile), (int)(check.Ruleset?.PrefixCount ?? 0));
}
