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

    /// <summary>
    /// Makes one interface run the checked ruleset: attach (also when fw's link lost the interface: defunct),
    /// keep (same digest, and nothing else the data plane depends on changed: see <see cref="Stale"/>) or reload.
    /// </summary>
    public static Applied Apply(string iface, CheckResult check, XdpMode mode = XdpMode.Auto)
    {
        var image = ImageOf(check);
        string objectPath = Classifier.DefaultObjectPath();
        string sha = ClassifierBuild.Sha256(objectPath);
        if (!Firewall.IsAttached(iface))
        {
            var attached = Firewall.Attach(iface, image, OriginOf(check), mode);
            ClassifierBuild.Remember(iface, attached.Generation, objectPath, sha);
            return new Applied(iface, ApplyOutcome.Attached, 0, "", attached);
        }
        ulong running;
        string runningDigest;
        string? stale = null;
        using (var state = InterfaceState.Open(iface))
        {
            running = state.Meta.Generation;
            runningDigest = state.Meta.DigestHex;
            if (runningDigest == image.Digest())
                stale = Stale(state, image, objectPath);
        }
        if (runningDigest == image.Digest() && stale is null)
            return new Applied(iface, ApplyOutcome.Unchanged, running, runningDigest, null);
        var reloaded = Firewall.Reload(iface, image, OriginOf(check));
        ClassifierBuild.Remember(iface, reloaded.Generation, objectPath, sha);
        return new Applied(iface, ApplyOutcome.Reloaded, running, runningDigest, reloaded) { Stale = stale };
    }

    /// <summary>
    /// Why a generation running this very ruleset (same digest) must still be reloaded; null when it need not. The
    /// digest covers the ruleset only, and two more things decide what the data plane does:
    /// <list type="bullet">
    /// <item>the ifindex each redirect rule sends to, resolved from its target's name when the generation was loaded:
    /// a target deleted and created again under the same name has another ifindex now (and the kernel took the old
    /// one out of fw_tx), so the rule sends nowhere until a reload resolves the name again;</item>
    /// <item>the classifier program: a new fw build (another bpf/fw.bpf.o) must replace the one running, which
    /// <see cref="ClassifierBuild"/> tells by the kernel's program tag.</item>
    /// </list>
    /// Redirects first: they cost nothing, and a reload they cause loads this build anyway.
    /// </summary>
    private static string? Stale(InterfaceState state, Compiler.MapImage image, string objectPath)
    {
        if (state.Rules.Count != image.Rules.Count)
            return $"the running generation has {state.Rules.Count} rules, the ruleset {image.Rules.Count}";
        for (int i = 0; i < image.Rules.Count; i++)
        {
            var rule = image.Rules[i];
            if (rule.Action != RuleAction.Redirect)
                continue;
            int now = NetInterface.TryIndex(rule.RedirectTo!);
            int live = state.Rules[i].Ifindex;
            if (now != live)
                return $"redirect target {rule.RedirectTo} is ifindex {now} now, rule {rule.Name} sends to ifindex {live}";
        }
        string liveTag;
        try
        {
            liveTag = ClassifierBuild.LiveTag(state);
        }
        catch (BpfException e) when (e.Errno == 2 /* ENOENT: reloaded meanwhile by another process */)
        {
            return "the running generation changed while it was read";
        }
        string tag = ClassifierBuild.TagOf(objectPath);
        return liveTag == tag ? null : $"another classifier build (program tag {liveTag} -> {tag})";
    }

    public static void Detach(string iface) => Firewall.Detach(iface);

    /// <summary>The checked image; a check with errors throws them (nothing is applied).</summary>
    private static Compiler.MapImage ImageOf(CheckResult check) =>
        check.Ok ? check.Image! : throw new RulesException(check.Diagnostics.Where(d => d.Severity == Severity.Error).ToList());

    private static ImageOrigin OriginOf(CheckResult check) =>
        new(Path.GetFullPath(check.RulesFile), (int)(check.Ruleset?.PrefixCount ?? 0));
}
