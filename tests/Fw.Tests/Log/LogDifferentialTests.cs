using System.Reflection;
using System.Runtime.InteropServices;
using Fw.Bpf;
using Fw.Compiler;
using Fw.Control;
using Fw.Kernel;
using Fw.Rules;
using Fw.Testing;
using Fw.Testing.Random;
using Fw.Testing.Reference;

namespace Fw.Tests.Log;

/// <summary>
/// Which frames the kernel logs, against the reference: generated rulesets with `log: true` on random rules and on
/// random verdicts of `log:`, generated frames (multi-buffer ones too); a frame has a record exactly when the
/// reference's decision (its first matching rule, or the default, malformed or non-IP verdict) is logged, and the
/// record names that rule and carries the frame's length and first snaplen bytes.
/// </summary>
public class LogDifferentialTests
{
    private const int FramesPerRuleset = 1500;

    [Theory]
    [InlineData(11)]
    [InlineData(12)]
    [InlineData(13)]
    public void KernelLogsWhatTheReferenceDecidesIsLogged(int seed)
    {
        var rng = new Random(seed);
        var loaded = RulesLoader.Parse(RulesetGenerator.Generate(seed, redirectTo: "lo"), $"generated-{seed}.yaml", ".");
        var check = RulesCheck.Check(loaded);
        Assert.True(check.Ok, string.Join("\n", check.Diagnostics));
        var rs = check.Ruleset!;
        var log = LogSettings.Default with
        {
            Rate = LogSettings.MaxRate,
            Snaplen = rng.Next(LogSettings.MinSnaplen, LogSettings.MaxSnaplen + 1),
            DefaultEvery = rng.Next(2) == 0 ? 1u : null,
            MalformedEvery = rng.Next(2) == 0 ? 1u : null,
            NonIpEvery = rng.Next(2) == 0 ? 1u : null,
        };
        var logged = rs.Rules.Select(_ => rng.Next(3) == 0).ToArray();
        var withLog = Clone(rs);
        Set(withLog, nameof(Ruleset.Rules), rs.Rules.Select((r, i) => WithLog(r, logged[i] ? 1u : null)).ToList());
        Set(withLog, nameof(Ruleset.Log), log);

        using var c = Classifier.Load(RulesetCompiler.Compile(withLog), new ClassifierOptions { Trace = true });
        using var ring = new RingBuffer(c.Map(Classifier.LogMap));
        var gen = new FrameGenerator(rs, seed);
        int compared = 0, records = 0;
        while (compared < FramesPerRuleset)
        {
            int? first = null;
            byte[] frame;
            if (compared % 5 == 4)
                (frame, first) = gen.NextMultiBuffer(BpfObject.TestRunMaxLinear);
            else
                frame = gen.Next();
            if (frame.Length < 14)
                continue;   // BPF_PROG_TEST_RUN refuses them
            var expected = ReferenceEvaluator.Evaluate(rs, frame, first);
            BpfObject.TestRun(c.ProgramFd, frame, linear: first);
            bool want = expected.Reason switch
            {
                Reason.Rule => logged[expected.RuleIndex],
                Reason.Default => log.DefaultEvery is not null,
                Reason.Malformed => log.MalformedEvery is not null,
                _ => log.NonIpEvery is not null,
            };
            var got = new List<byte[]>();
            ring.Poll(TimeSpan.Zero, r => got.Add(r.ToArray()));
            Assert.True(got.Count == (want ? 1 : 0), $"seed {seed}, frame {compared} ({expected}): {got.Count} records, {(want ? "one" : "none")} expected");
            if (want)
            {
                var rec = MemoryMarshal.Read<FwLogRec>(got[0]);
                int header = Marshal.SizeOf<FwLogRec>();
                Assert.Equal(expected.Reason == Reason.Rule ? (uint)expected.RuleIndex : uint.MaxValue, rec.Rule);
                Assert.Equal((uint)frame.Length, rec.Len);
                int caplen = Math.Min(frame.Length, log.Snaplen);
                Assert.Equal(caplen, rec.Caplen);
                Assert.Equal(frame.AsSpan(0, caplen).ToArray(), got[0].AsSpan(header, caplen).ToArray());
                records++;
            }
            compared++;
        }
        Assert.True(records > 0, $"seed {seed}: no frame was logged; the test compared nothing logged");
    }

    private static readonly MethodInfo s_clone = typeof(object).GetMethod("MemberwiseClone", BindingFlags.NonPublic | BindingFlags.Instance)!;

    private static T Clone<T>(T o) where T : class => (T)s_clone.Invoke(o, null)!;

    private static void Set(object o, string property, object? value) => o.GetType().GetProperty(property)!.SetValue(o, value);

    private static Rule WithLog(Rule r, uint? every)
    {
        var c = Clone(r);
        Set(c, nameof(Rule.LogEvery), every);
        return c;
    }
}
