namespace Fw.Bench;

/// <summary>Medians and spreads of repeated measurements.</summary>
public static class Stats
{
    public static double Median(IReadOnlyCollection<double> xs)
    {
        if (xs.Count == 0)
            return double.NaN;
        var s = xs.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }

    public static double Min(IReadOnlyCollection<double> xs) => xs.Count == 0 ? double.NaN : xs.Min();

    public static double Max(IReadOnlyCollection<double> xs) => xs.Count == 0 ? double.NaN : xs.Max();
}
