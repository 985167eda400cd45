namespace Fw.Rules;

/// <summary>
/// Issue 15's keys: a set written as a mapping (`{file: PATH}`, or a live set `{dynamic: true, timeout, max}`), a
/// rule's `limit` and `add_to`, and the checks that keep a ruleset within the data plane's live-set slots and limits.
/// </summary>
internal sealed partial class RulesReader
{
    private static readonly string[] SetMapKeys = ["file", "dynamic", "timeout", "max"];
    private static readonly string[] LimitKeys = ["rate", "burst", "per"];

    /// <summary>A limit's N in "N/s" or "N/m": at most one packet a nanosecond (the interval is whole ns, at least 1).</summary>
    internal const long MaxLimitRate = 1_000_000_000;

    /// <summary>A limit's burst at most.</summary>
    internal const long MaxLimitBurst = 1_000_000_000;

    /// <summary>How far ahead of time a bucket may run ((burst - 1) intervals) at most: a year, so no sum overflows.</summary>
    internal const ulong MaxLimitToleranceNs = PrefixSet.MaxTimeout * 1_000_000_000UL;

    private const string LimitExpected = "a mapping of rate, burst and per, like {rate: 50/s, burst: 100, per: src}";
    private const string RateExpected = "\"N/s\" or \"N/m\" (packets a second or a minute)";
    private const string PerExpected = "src, src/N (N 1-128) or rule";

    // ---- a set written as a mapping ----

    /// <summary>`{file: PATH}` (static, as before), `{dynamic: false, file: PATH}`, or `{dynamic: true, timeout, max}`.</summary>
    private PrefixSet? ReadSetMapping(string name, SourcePos pos, int length, string expected)
    {
        ScalarNode? fileNode = null;
        bool? dynamic = null;
        uint? timeout = null;
        int? max = null;
        bool bad = false;
        var given = new Dictionary<string, SourcePos>(StringComparer.Ordinal);
        var mapPos = y.Pos;
        ReadMapping($"set '{Clip(name)}'", SetMapKeys, (key, keyPos, keyLength) =>
        {
            given[key] = keyPos;
            switch (key)
            {
                case "file":
                    if (TryScalar(key, "a file path", keyPos, keyLength, out var s))
                        fileNode = s;
                    else
                        bad = true;
                    break;
                case "dynamic":
                    dynamic = ReadBool(key, keyPos, keyLength);
                    bad |= dynamic is null;
                    break;
                case "timeout":
                    if (ReadCount(key, keyPos, keyLength, PrefixSet.MinTimeout, PrefixSet.MaxTimeout) is { } t)
                        timeout = (uint)t;
                    else
                        bad = true;
                    break;
                case "max":
                    if (ReadCount(key, keyPos, keyLength, PrefixSet.MinMax, PrefixSet.MaxMax) is { } m)
                        max = (int)m;
                    else
                        bad = true;
                    break;
            }
        });
        if (given.ContainsKey("dynamic") && dynamic is null)
            return null;   // reported; whether the rest fits depends on what was meant

        if (dynamic == true)
        {
            if (given.TryGetValue("file", out var filePos))
            {
                d.Error(filePos, $"set '{Clip(name)}' is dynamic: its entries come from add_to and fwctl set, not from a file; "
                    + "remove 'file' or 'dynamic: true'", "file".Length);
                return null;
            }
            if (NameProblem(name, "set name") is null && SetName.Problem(name) is { } problem)
            {
                d.Error(pos, problem, length);
                return null;
            }
            return bad ? null : new PrefixSet
            {
                Name = name, Prefixes = [], Pos = pos, Dynamic = true, Timeout = timeout, Max = max ?? PrefixSet.DefaultMax,
            };
        }

        foreach (var key in (string[])["timeout", "max"])
        {
            if (given.TryGetValue(key, out var keyPos))
            {
                d.Error(keyPos, $"'{key}' is only for a live set (dynamic: true); set '{Clip(name)}' is static", key.Length);
                bad = true;
            }
        }
        if (fileNode is not ScalarNode f)
        {
            if (!given.ContainsKey("file"))
                d.Error(mapPos, $"set '{Clip(name)}' has no 'file'; expected {expected}, or {{dynamic: true}} for a live set", 1);
            return null;
        }
        if (f.Value.Length == 0)
        {
            d.Error(f.Pos, $"set '{Clip(name)}': empty file path", f.Length);
            return null;
        }
        if (bad)
            return null;
        string path = Path.Combine(baseDirectory, f.Value);
        var list = setFiles.Read(path, f.Pos, f.Length);
        return list is null ? null : new PrefixSet { Name = name, Prefixes = list, Pos = pos, File = path };
    }

    /// <summary>true or false at the cursor; reported and null otherwise.</summary>
    private bool? ReadBool(string key, SourcePos keyPos, int keyLength)
    {
        if (!TryScalar(key, "true or false", keyPos, keyLength, out var s))
            return null;
        switch (s.Value)
        {
            case "true":
                return true;
            case "false":
                return false;
            default:
                d.Error(s.Pos, $"bad {key} {s.Describe()}; expected true or false", s.Length);
                return null;
        }
    }

    // ---- limit ----

    private RuleLimit? ReadLimit(SourcePos keyPos, int keyLength)
    {
        if (IsNullValue())
        {
            d.Error(keyPos, $"'limit' has no value; expected {LimitExpected}", keyLength);
            return null;
        }
        if (y.Kind != NodeKind.Mapping)
        {
            ExpectedFound("'limit'", LimitExpected);
            return null;
        }
        var mapPos = y.Pos;
        (uint Rate, uint Period)? rate = null;
        uint? burst = null;
        var burstAt = (Pos: mapPos, Length: 0, Text: "");
        bool perRule = false;
        (byte Len4, byte Len6) lens = (32, 128);
        bool ok = true, sawRate = false;
        ReadMapping("limit", LimitKeys, (key, pos, length) =>
        {
            switch (key)
            {
                case "rate":
                    sawRate = true;
                    rate = ReadRate(pos, length);
                    ok &= rate is not null;
                    break;
                case "burst":
                    burstAt = (y.Pos, y.Length, y.Current is YamlDotNet.Core.Events.Scalar sc ? sc.Value : "");
                    if (ReadCount(key, pos, length, 1, MaxLimitBurst) is { } b)
                        burst = (uint)b;
                    else
                        ok = false;
                    break;
                case "per":
                    ok &= ReadPer(pos, length, ref perRule, ref lens);
                    break;
            }
        });
        if (!sawRate)
        {
            d.Error(mapPos, $"'limit' has no 'rate'; expected {RateExpected}", 1);
            return null;
        }
        if (!ok || rate is not var (n, period))
            return null;
        var limit = new RuleLimit
        {
            Rate = n, PeriodSeconds = period, Burst = burst ?? RuleLimit.DefaultBurst(n, period),
            PerRule = perRule, Len4 = lens.Len4, Len6 = lens.Len6,
        };
        // (burst - 1) * interval: computed in 128 bits, as the product of the bounds passes 64.
        if ((UInt128)(limit.Burst - 1) * limit.IntervalNs > MaxLimitToleranceNs)
        {
            ulong most = MaxLimitToleranceNs / limit.IntervalNs + 1;
            d.Error(burstAt.Pos, $"burst {Clip(burstAt.Text)} at {n}/{(period == 1 ? "s" : "m")} is more than a year's worth of packets; "
                + $"at most {most:N0} at this rate", burstAt.Length);
            return null;
        }
        return limit;
    }

    /// <summary>"N/s" or "N/m", N 1 to <see cref="MaxLimitRate"/>; reported and null otherwise.</summary>
    private (uint Rate, uint Period)? ReadRate(SourcePos keyPos, int keyLength)
    {
        if (!TryScalar("rate", RateExpected, keyPos, keyLength, out var s))
            return null;
        string v = s.Value.Replace(" ", "");
        int slash = v.IndexOf('/');
        string unit = slash < 0 ? "" : v[(slash + 1)..];
        if (slash > 0 && TryNumber(v[..slash], out long n) && unit is "s" or "m")
        {
            if (n is < 1 or > MaxLimitRate)
            {
                d.Error(s.Pos, $"rate {s.Describe()}: N is out of range (1-{MaxLimitRate:N0})", s.Length);
                return null;
            }
            return ((uint)n, unit == "s" ? 1u : 60u);
        }
        d.Error(s.Pos, $"bad rate {s.Describe()}; expected {RateExpected}", s.Length);
        return null;
    }

    /// <summary>per: src (each address), src/N (RuleLimit.PerSource) or rule (one bucket).</summary>
    private bool ReadPer(SourcePos keyPos, int keyLength, ref bool perRule, ref (byte Len4, byte Len6) lens)
    {
        if (!TryScalar("per", PerExpected, keyPos, keyLength, out var s))
            return false;
        string v = s.Value.Replace(" ", "");
        switch (v)
        {
            case "rule":
                perRule = true;
                return true;
            case "src":
                return true;
        }
        if (v.StartsWith("src/", StringComparison.Ordinal) && TryNumber(v[4..], out long n))
        {
            if (n is < 1 or > 128)
            {
                d.Error(s.Pos, $"per {s.Describe()}: N is out of range (1-128)", s.Length);
                return false;
            }
            lens = RuleLimit.PerSource((int)n);
            return true;
        }
        d.Error(s.Pos, $"bad per {s.Describe()}; expected {PerExpected}", s.Length);
        return false;
    }

    /// <summary>limit only with drop (over the rate) or pass (a quota); the rule's action is read by now.</summary>
    private void CheckLimitAction(RawRule r)
    {
        if (r.Action == RuleAction.Redirect && r.KeyPos.TryGetValue("limit", out var pos))
        {
            d.Error(pos, "'limit' is only for action drop (it matches packets over the rate) or pass (a quota: packets within it), "
                + "not redirect", "limit".Length);
        }
    }

    // ---- add_to ----

    private bool ReadAddTo(RawRule r, SourcePos keyPos, int keyLength)
    {
        const string Expected = "a live set \"@name\"";
        if (!TryScalar("add_to", Expected, keyPos, keyLength, out var s))
            return false;
        if (!s.Value.StartsWith('@'))
        {
            d.Error(s.Pos, $"bad add_to {s.Describe()}; expected {Expected}", s.Length);
            return false;
        }
        if (s.Value.Length == 1)
        {
            d.Error(s.Pos, "'@' without a set name", s.Length);
            return false;
        }
        r.AddToRef = (s.Value[1..], s.Pos, s.Length);
        return true;
    }

    /// <summary>add_to names a live set of this ruleset.</summary>
    private void ResolveAddTo()
    {
        foreach (var r in rules)
        {
            if (r?.AddToRef is not var (name, pos, length))
                continue;
            if (sets.TryGetValue(name, out var set))
            {
                if (set.Dynamic)
                    r.AddTo = set;
                else
                    d.Error(pos, $"add_to names set '{Clip(name)}', which is static (a list or a file); add_to needs a live set (dynamic: true)", length);
            }
            else if (!brokenSets.Contains(name))
            {
                string hint = d.Keeps(pos.File) ? Suggest(name, sets.Keys.Concat(brokenSets), "@") : "";
                d.Error(pos, $"unknown set '{Clip(name)}'{hint}", length);
            }
        }
    }

    // ---- the data plane's bounds ----

    /// <summary>
    /// The live sets fit fw_sets' slots (FwLimits.LiveSetsPerField named in src, as many in dst, FwLimits.LiveSetsOther
    /// named in neither) and at most FwLimits.MaxLimits rules have a limit: what is read here always compiles.
    /// Each bound is reported once, where it is passed.
    /// </summary>
    private void CheckLiveBounds()
    {
        var src = FieldLiveSets(r => r.Src, "src");
        var dst = FieldLiveSets(r => r.Dst, "dst");
        var others = sets.Values.Where(s => s.Dynamic && !src.Contains(s.Name) && !dst.Contains(s.Name))
            .OrderBy(s => s.Pos.Line).ThenBy(s => s.Pos.Column).ToList();
        if (others.Count > FwLimits.LiveSetsOther)
        {
            var s = others[FwLimits.LiveSetsOther];
            d.Error(s.Pos, $"more than {FwLimits.LiveSetsOther} live sets are named in neither src nor dst (add_to targets, sets only "
                + $"fwctl fills); '{Clip(s.Name)}' is the {FwLimits.LiveSetsOther + 1}th", s.Name.Length);
        }
        int limits = 0;
        foreach (var r in rules)
        {
            if (r?.Limit is null || ++limits <= FwLimits.MaxLimits)
                continue;
            d.Error(r.KeyPos["limit"], $"more than {FwLimits.MaxLimits} rules have a limit; this is the {FwLimits.MaxLimits + 1}th", "limit".Length);
            break;
        }
    }

    /// <summary>The live sets rules name in a field, in file order; past the field's slots, an error at the first one over.</summary>
    private HashSet<string> FieldLiveSets(Func<RawRule, RawAddress?> field, string key)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        bool reported = false;
        foreach (var r in rules)
        {
            if (r is null || field(r) is not { } a)
                continue;
            foreach (var (name, pos, length) in a.SetRefs)
            {
                if (!sets.TryGetValue(name, out var set) || !set.Dynamic || !names.Add(name))
                    continue;
                if (names.Count > FwLimits.LiveSetsPerField && !reported)
                {
                    reported = true;
                    d.Error(pos, $"more than {FwLimits.LiveSetsPerField} live sets are named in {key}; '@{Clip(name)}' is the "
                        + $"{FwLimits.LiveSetsPerField + 1}th", length);
                }
            }
        }
        return names;
    }
}
