using System.Collections.Concurrent;
using System.Security.Cryptography;
using Fw.Bpf;
using Fw.Compiler;
using Fw.Kernel;
using Fw.Rules;

namespace Fw.Control;

/// <summary>
/// Which build of the classifier (bpf/fw.bpf.o) a generation runs, for <see cref="Deployment.Apply"/>: the ruleset's
/// digest says nothing of it, so an upgraded fw would otherwise keep the old program as long as the rules stay.
/// </summary>
/// <remarks>
/// A build is known by the kernel's program tag (<see cref="BpfObject.ProgramTag"/>: a hash of the instructions as
/// loaded, map references zeroed), compared between the live generation's pinned classifier and a program loaded
/// from the object this fw would load. The tag was chosen over a SHA-256 of the object file recorded at attach and
/// reload because the kernel records it itself, on every program: nothing to store (fw_meta is a shared ABI struct
/// and bpffs holds only BPF objects), right for generations loaded by fwctl or by an older fw that recorded nothing,
/// and blind to what does not change the program (debug info, a rebuild of the same source); the ruleset's sizes
/// and settings do not enter it either (they are maps and .rodata), so one load of an empty ruleset gives the tag
/// of every ruleset. What it does not see is a build that changes only map definitions and not one instruction.
/// Cost: reading the live tag is one pin open and one syscall; learning the object's tag takes one load of the
/// empty ruleset (~0.2 s, the verifier), once per object content (keyed by the file's SHA-256, so a file replaced
/// in place is seen), and none when this process loaded the object itself (<see cref="Remember"/>).
/// </remarks>
internal static class ClassifierBuild
{
    private static readonly ConcurrentDictionary<string, string> s_tagBySha = new(StringComparer.Ordinal);

    private static readonly Lazy<MapImage> s_empty = new(() =>
        RulesCheck.Check(RulesLoader.Parse("rules: []\n", "(classifier build)", "/")).Image
        ?? throw new InvalidOperationException("the empty ruleset does not compile"));

    /// <summary>The tag a program loaded from this object file gets.</summary>
    public static string TagOf(string objectPath)
    {
        string sha = Sha256(objectPath);
        if (s_tagBySha.TryGetValue(sha, out string? tag))
            return tag;
        using (var c = Classifier.Load(s_empty.Value, new ClassifierOptions { ObjectPath = objectPath }))
            tag = BpfObject.ProgramTag(c.ProgramFd);
        if (Sha256(objectPath) == sha)   // not replaced while it loaded
            s_tagBySha[sha] = tag;
        return tag;
    }

    /// <summary>The tag of the classifier of the generation <paramref name="state"/> describes.</summary>
    public static string LiveTag(InterfaceState state) => TagOfPinned(state.GenerationDir);

    /// <summary>
    /// After this process loaded generation <paramref name="generation"/> from <paramref name="objectPath"/> (whose
    /// content had <paramref name="shaBefore"/>): its tag is that object's, learnt without another load.
    /// </summary>
    public static void Remember(string iface, ulong generation, string objectPath, string shaBefore)
    {
        try
        {
            string tag = TagOfPinned(PinLayout.Generation(iface, generation));
            if (Sha256(objectPath) == shaBefore)
                s_tagBySha[shaBefore] = tag;
        }
        catch (Exception e) when (e is BpfException or IOException)
        {
            // Reloaded again meanwhile: learnt at the next comparison instead.
        }
    }

    public static string Sha256(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));

    private static string TagOfPinned(string generationDir)
    {
        using var prog = FdHandle.OpenPinned(Path.Combine(generationDir, PinLayout.ClassifierPin));
        return BpfObject.ProgramTag(prog.Fd);
    }
}
