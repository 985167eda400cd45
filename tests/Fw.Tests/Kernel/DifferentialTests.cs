using System.Text;
using Fw.Compiler;
using Fw.Kernel;
using Fw.Rules;
using Fw.Testing.Random;
using Fw.Testing.Reference;
using Xunit.Abstractions;
using Fw.Bpf;
using Fw.Control;

namespace Fw.Tests.Kernel;

/// <summary>
/// The kernel program against the reference evaluator: random rulesets (overlapping IPv4/IPv6 prefixes,
/// sets, port ranges, flags, ICMP types, both defaults) and random frames biased toward rule boundaries, one in
/// four a multi-buffer frame (jumbo ones too) whose first buffer ends at, by or inside a header.
/// Every verdict and every matched rule must be equal. A failure prints the ruleset and the frame.
/// </summary>
public class DifferentialTests(ITestOutputHelper output)
{
    public const int Rulesets = 200;
    public const int FramesPerRuleset = 100;   // 20,000 frames in all

    // Split in slices so xunit reports progress and runs them in parallel with other classes.
    public static TheoryData<int> Slices => new(Enumerable.Range(0, 10));

    [Theory]
    [MemberData(nameof(Slices))]
    public void KernelAgreesWithReference(int slice)
    {
        int perSlice = Rulesets / 10;
        int frames = 0, shortFrames = 0;
        for (int seed = slice * perSlice; seed < (slice + 1) * perSlice; seed++)
        {
            var (f, s) = RunSeed(seed);
            frames += f;
            shortFrames += s;
        }
        output.WriteLine($"slice {slice}: {perSlice} rulesets, {frames} frames compared, {shortFrames} frames under 14 bytes checked by the reference only");
        Assert.Equal(perSlice * FramesPerRuleset, frames);
    }

    /// <summary>Replays one seed: set FW_REPLAY_SEED to debug a failure.</summary>
    [Fact]
    public void ReplaySeedFromEnvironment()
    {
        string? seed = Environment.GetEnvironmentVariable("FW_REPLAY_SEED");
        var (frames, _) = RunSeed(seed is null ? 4242 : int.Parse(seed));
        Assert.True(frames > 0);
    }

    private static (int Compared, int Short) RunSeed(int seed)
    {
        string yaml = RulesetGenerator.Generate(seed, redirectTo: "lo");
        var loaded = RulesLoader.Parse(yaml, $"generated-{seed}.yaml", ".");
        var check = RulesCheck.Check(loaded);
        Assert.True(check.Ok, $"seed {seed}: generated ruleset rejected:\n{string.Join("\n", check.Diagnostics)}\n{yaml}");
        var rs = check.Ruleset!;
        using var c = Classifier.Load(check.Image!, new ClassifierOptions { Trace = true });
        var gen = new FrameGenerator(rs, seed);
        int compared = 0, shortFrames = 0;
        while (compared < FramesPerRuleset)
        {
            // Every fourth frame in several buffers (null: one).
            int? first = null;
            byte[] frame;
            if (compared % 4 == 3)
                (frame, first) = gen.NextMultiBuffer(BpfObject.TestRunMaxLinear);
            else
                frame = gen.Next();
            var expected = ReferenceEvaluator.Evaluate(rs, frame, first);
            if (frame.Length < 14)
            {
                // BPF_PROG_TEST_RUN refuses frames shorter than an Ethernet header (so does every NIC).
                Assert.Equal(Reason.Malformed, expected.Reason);
                shortFrames++;
                continue;
            }
            var run = BpfObject.TestRun(c.ProgramFd, frame, linear: first);
            var trace = c.ReadTrace();
            if (!Agrees(expected, run.Verdict, trace))
                Assert.Fail(Report(seed, yaml, frame, first, expected, run.Verdict, trace));
            compared++;
        }
        return (compared, shortFrames);
    }

    /// <summary>The kernel's verdict and traced reason (and rule, for a rule) are the reference's.</summary>
    internal static bool Agrees(Result expected, XdpAction verdict, FwTrace trace)
    {
        var want = expected.Action switch
        {
            RuleAction.Pass => XdpAction.Pass,
            RuleAction.Drop => XdpAction.Drop,
            _ => XdpAction.Redirect,
        };
        var wantReason = expected.Reason switch
        {
            Reason.Rule => FwReason.Rule,
            Reason.Default => FwReason.Default,
            Reason.Malformed => FwReason.Malformed,
            _ => FwReason.NonIp,
        };
        return verdict == want && (FwReason)trace.Reason == wantReason
            && (wantReason != FwReason.Rule || trace.Rule == expected.RuleIndex);
    }

    private static string Report(int seed, string yaml, byte[] frame, int? first, Result expected, XdpAction verdict, FwTrace trace)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"seed {seed}: kernel said {verdict} ({(FwReason)trace.Reason}, rule {(int)trace.Rule}), reference said {expected}");
        sb.AppendLine($"frame ({frame.Length} bytes{(first is int f ? $", the first {f} in the first buffer" : "")}): {Convert.ToHexString(frame)}");
        sb.AppendLine($"parsed: {ReferenceEvaluator.Parse(frame, first)}");
        sb.AppendLine($"replay: FW_REPLAY_SEED={seed} dotnet test --filter ReplaySeedFromEnvironment");
        sb.AppendLine("ruleset:");
        sb.Append(yaml);
        return sb.ToString();
    }
}
