using Fw.Rules;

namespace Fw.Testing.Reference;

/// <summary>
/// Rules' limits as the contract of issue 15 says them: a GCRA bucket (its theoretical arrival time, ns) per rule
/// and, unless `per: rule`, per family and source masked to the limit's prefix length. A missing bucket is full:
/// the packet is within and the bucket's time becomes now + interval. Otherwise, from max(time, now): more than
/// the tolerance ((burst - 1) intervals) ahead of now is over and changes nothing; else within, and the time moves
/// on by one interval. Every check is counted, over or within.
/// </summary>
public sealed class ReferenceLimits
{
    readonly record struct BucketKey(int Rule, IpFamily? Family, UInt128 Source);

    readonly Dictionary<BucketKey, ulong> _tat = new();

    /// <summary>Checks found over (the data plane's LIMIT_OVER counter).</summary>
    public long Over { get; private set; }

    /// <summary>Checks found within (LIMIT_UNDER).</summary>
    public long Within { get; private set; }

    /// <summary>Buckets made so far.</summary>
    public int Buckets => _tat.Count;

    /// <summary>
    /// Whether the packet from <paramref name="source"/> (left-aligned, as <see cref="IpPrefix.Bits"/>) is over the
    /// limit of rule <paramref name="rule"/> at <paramref name="nowNs"/> (true), or within it (false: the packet is
    /// taken from the bucket).
    /// </summary>
    public bool Check(int rule, RuleLimit limit, IpFamily family, UInt128 source, ulong nowNs)
    {
        var key = limit.PerRule
            ? new BucketKey(rule, null, UInt128.Zero)
            : new BucketKey(rule, family, source & IpPrefix.MaskOf(family == IpFamily.V4 ? limit.Len4 : limit.Len6));
        ulong interval = limit.IntervalNs, tolerance = limit.ToleranceNs;
        if (!_tat.TryGetValue(key, out ulong tat))
        {
            _tat[key] = nowNs + interval;
            Within++;
            return false;
        }
        ulong from = Math.Max(tat, nowNs);
        if (from - nowNs > tolerance)
        {
            Over++;
            return true;
        }
        _tat[key] = from + interval;
        Within++;
        return false;
    }

    /// <summary>The same for a source written as a host prefix.</summary>
    public bool Check(int rule, RuleLimit limit, IpPrefix source, ulong nowNs) =>
        Check(rule, limit, source.Family, source.Bits, nowNs);
}
