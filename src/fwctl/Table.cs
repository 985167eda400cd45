namespace Fw.Cli;

/// <summary>
/// An aligned text table: text columns left, numeric columns right, two spaces between. A column whose cells all
/// start with a digit is numeric unless named in <paramref name="textColumns"/> (addresses, prefixes).
/// </summary>
internal sealed class Table(string[] headers, params int[] textColumns)
{
    private readonly List<string[]> _rows = [];

    public void Add(string[] row) => _rows.Add(row);

    public void Write(TextWriter w)
    {
        int n = headers.Length;
        var width = new int[n];
        var numeric = new bool[n];
        for (int c = 0; c < n; c++)
        {
            width[c] = Math.Max(headers[c].Length, _rows.Select(r => c < r.Length ? r[c].Length : 0).DefaultIfEmpty(0).Max());
            numeric[c] = _rows.Count > 0 && !textColumns.Contains(c) && _rows.All(r => c >= r.Length || r[c].Length == 0 || r[c] == "-" || char.IsDigit(r[c][0]));
        }
        void Line(string[] cells)
        {
            var parts = new string[n];
            for (int c = 0; c < n; c++)
            {
                string v = c < cells.Length ? cells[c] : "";
                parts[c] = numeric[c] ? v.PadLeft(width[c]) : v.PadRight(width[c]);
            }
            w.WriteLine(string.Join("  ", parts).TrimEnd());
        }
        Line(headers);
        foreach (var r in _rows)
            Line(r);
    }
}
