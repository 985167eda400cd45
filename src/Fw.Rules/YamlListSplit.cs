using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Fw.Rules;

/// <summary>
/// A long block list of scalars (an inline set of a million prefixes: 22 MB of <c>- prefix</c> lines) read by two
/// YamlDotNet parsers at once. YamlDotNet scans about 35 MB/s on one core; a second core halves that wait.
/// <para>When <see cref="YamlCursor"/> meets a block list with at least <see cref="MinChars"/> of text after it, it
/// picks a line <see cref="At"/> part way into the rest that starts at the list's column with <c>- </c>, and a worker
/// parses the text from there as a YAML stream of its own (<see cref="Work"/>): it must be one block list at that
/// column of one-line scalars (plain or quoted, no anchor, no tag) and nothing else, up to the line where the list
/// ends (<see cref="End"/>: the line of the list's end, whose indentation is less). The main parser reads the text up
/// to <see cref="At"/> and then goes on at <see cref="End"/> (<see cref="TextRangeReader"/>), so it sees the list's
/// first part and then what follows the list; the cursor gives the worker's scalars in between, their positions moved
/// to where they stand in the file, and everything after them moved by the lines and characters left out.</para>
/// <para>This is the parse of the whole text, event for event, when the main parser's part ends at the line break
/// before <see cref="At"/> with one-line scalars of the list and its next event is the list's end (a block list
/// item ends at a line break, and a line at the list's column starting with <c>- </c> begins the next item), which
/// the cursor checks; and when the worker's part holds only such scalars. When the worker's part is anything else,
/// the main parser reads on at <see cref="At"/> as if nothing happened; when the main parser's part is anything
/// else after it has gone on at <see cref="End"/>, the cursor throws <see cref="YamlSplitFailed"/> and the file is
/// read again without splitting (<see cref="RulesLoader"/>). Either way findings are those of a plain read.</para>
/// </summary>
internal sealed class YamlListSplit
{
    /// <summary>Least text after a list's start worth a second parser (smaller lists parse in milliseconds).</summary>
    public const int MinChars = 1 << 20;

    /// <summary>The share of the rest of the text the main parser keeps: it also does the per-item work of the reader.</summary>
    private const double MainShare = 0.4;

    private readonly string text;
    private readonly int column;
    private volatile bool stop;

    private YamlListSplit(string text, int at, long lineAt, int column, int depth)
    {
        this.text = text;
        At = at;
        LineAt = lineAt;
        this.column = column;
        Depth = depth;
        Worker = Task.Run(Work);
    }

    /// <summary>Where the worker's part begins: the start of a line (an index in the text).</summary>
    public int At { get; }

    /// <summary>The line of <see cref="At"/>.</summary>
    public long LineAt { get; }

    /// <summary>The cursor's depth inside the list.</summary>
    public int Depth { get; }

    /// <summary>Whether the worker's part is a list of one-line scalars as above; then <see cref="Item"/>, <see cref="End"/>, <see cref="Lines"/>.</summary>
    public Task<bool> Worker { get; }

    /// <summary>
    /// The worker's scalars, kept as where they stand (positions counted from <see cref="At"/>) and not as events: a
    /// million events kept across collections cost more in the GC than their parse. <see cref="Item"/> makes each.
    /// </summary>
    private readonly List<Kept> items = [];

    /// <summary>The worker's scalars (a count).</summary>
    public int Count => items.Count;

    /// <summary>The worker's scalar <paramref name="k"/> as the plain read gives it: its value, its style, its place in the file.</summary>
    public Scalar Item(int k)
    {
        var it = items[k];
        int q = it.Style == ScalarStyle.Plain ? 0 : 1;
        string value = it.Value ?? text.Substring(At + it.Index + q, it.IndexWidth - 2 * q);
        long index = At + it.Index, line = LineAt + it.Line - 1;
        return new Scalar(AnchorName.Empty, TagName.Empty, value, it.Style, it.Style == ScalarStyle.Plain, it.Style != ScalarStyle.Plain,
            new Mark(index, line, it.Column), new Mark(index + it.IndexWidth, line, it.Column + it.ColumnWidth));
    }

    /// <summary>A scalar of the worker's part: where it starts (from <see cref="At"/>), its widths, its style; its value when not the text between its quotes.</summary>
    private readonly record struct Kept(int Index, int Line, int Column, int IndexWidth, int ColumnWidth, ScalarStyle Style, string? Value);

    /// <summary>Where the text after the list begins (the start of the line where it ends).</summary>
    public int End { get; private set; }

    /// <summary>Line breaks between <see cref="At"/> and <see cref="End"/>.</summary>
    public long Lines { get; private set; }

    /// <summary>The main parser reached <see cref="At"/>: whether it went on at <see cref="End"/>.</summary>
    public bool Spliced { get; private set; }

    /// <summary>The main parser reached <see cref="At"/> (spliced or not).</summary>
    public bool Crossed { get; private set; }

    /// <summary>The cursor saw something in the main part other than scalars of the list: no splice, the worker may stop.</summary>
    public bool Abandoned { get; private set; }

    /// <summary>
    /// A split of the block list starting at <paramref name="start"/> (its first <c>-</c>), or null when it is too
    /// short (or one of many short ones), not alone on its line, or the text before the split point has line breaks other than \n and \r\n
    /// (the split's line numbers are counted here, as YamlDotNet counts them).
    /// </summary>
    public static YamlListSplit? Plan(string text, Mark start, int depth)
    {
        int i0 = (int)start.Index, column = (int)start.Column;
        if (text.Length - i0 < MinChars || i0 < column - 1 || text.AsSpan(i0 - (column - 1), column - 1).ContainsAnyExcept(' '))
            return null;
        // The first "\n" + indentation + "- " past the main parser's share.
        string item = "\n" + new string(' ', column - 1) + "- ";
        int from = i0 + (int)((text.Length - i0) * MainShare);
        int found = text.AsSpan(from).IndexOf(item, StringComparison.Ordinal);
        if (found < 0)
            return null;
        int at = from + found + 1;
        // A long list, not a short one among others at its indentation (one of 4,096 rules' src lists): lines
        // sampled along the main parser's part are items too. (Cheap; the checks that count come after the parse.)
        for (int k = 1; k <= 8; k++)
        {
            int line = text.IndexOf('\n', i0 + (int)((long)(at - i0) * k / 9));
            if (line < 0 || line >= at || !text.AsSpan(line).StartsWith(item, StringComparison.Ordinal))
                return null;
        }
        var before = text.AsSpan(i0, at - i0);
        if (before.ContainsAny('\u0085', '\u2028', '\u2029') || before.Count('\r') != before.Count("\r\n"))
            return null;
        return new YamlListSplit(text, at, start.Line + before.Count('\n'), column, depth);
    }

    /// <summary>Lists read split so far in this process (tests check that a split happened).</summary>
    internal static int Splices;

    /// <summary>Called by the main parser's reader at <see cref="At"/>: where to read on.</summary>
    public int Cross()
    {
        Crossed = true;
        Spliced = !Abandoned && Worker.GetAwaiter().GetResult();
        if (Spliced)
            Interlocked.Increment(ref Splices);
        return Spliced ? End : At;
    }

    /// <summary>No splice (when the main parser has not yet reached <see cref="At"/>): the worker may stop.</summary>
    public void Abandon()
    {
        Abandoned = true;
        stop = true;
    }

    private bool Work()
    {
        try
        {
            var parser = new Parser(new TextRangeReader(text, At, text.Length));
            if (!Expect<StreamStart>(parser) || !Expect<DocumentStart>(parser) || !Expect<SequenceStart>(parser)
                || parser.Current is not SequenceStart { Style: YamlDotNet.Core.Events.SequenceStyle.Block } list
                || list.Start.Column != column || !list.Anchor.IsEmpty || !list.Tag.IsEmpty)
                return false;
            while (parser.MoveNext())
            {
                if (stop)
                    return false;
                switch (parser.Current)
                {
                    case Scalar s when IsPlainItem(s):
                        int q = s.Style == ScalarStyle.Plain ? 0 : 1, width = (int)(s.End.Index - s.Start.Index);
                        bool asWritten = s.Value.Length == width - 2 * q
                            && text.AsSpan(At + (int)s.Start.Index + q, s.Value.Length).SequenceEqual(s.Value);
                        items.Add(new Kept((int)s.Start.Index, (int)s.Start.Line, (int)s.Start.Column, width,
                            (int)(s.End.Column - s.Start.Column), s.Style, asWritten ? null : s.Value));
                        break;
                    case SequenceEnd e:
                        // The list ends where a line of less indentation begins (or at the end of the text).
                        var m = e.Start;
                        int lineStart = (int)(m.Index - (m.Column - 1));
                        if (items.Count == 0 || m.Column >= column || lineStart < 0
                            || text.AsSpan(At + lineStart, (int)m.Column - 1).ContainsAnyExcept(' '))
                            return false;
                        End = At + lineStart;
                        Lines = m.Line - 1;
                        return true;
                    default:
                        return false;
                }
            }
            return false;
        }
        catch (Exception)
        {
            return false;   // whatever it was, the main parser reads that part itself and reports it
        }
    }

    /// <summary>A list item the split can take: a scalar on one line, plain or quoted, without anchor or tag.</summary>
    public static bool IsPlainItem(Scalar s) =>
        s.Start.Line == s.End.Line && s.Anchor.IsEmpty && s.Tag.IsEmpty
        && s.Style is ScalarStyle.Plain or ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted;

    private static bool Expect<T>(Parser parser) where T : ParsingEvent => parser.MoveNext() && parser.Current is T;
}

/// <summary>The main parser's part of a split list did not end where the worker's began: read the file again, unsplit.</summary>
internal sealed class YamlSplitFailed : Exception;

/// <summary>
/// A string read from one index to another; once it reaches the index given to <see cref="StopAt"/>, it asks where
/// to go on (<see cref="YamlListSplit.Cross"/>).
/// </summary>
internal sealed class TextRangeReader(string text, int from, int to) : TextReader
{
    private int pos = from, stop = to;
    private Func<int>? atStop;

    public void StopAt(int at, Func<int> next)
    {
        if (at < pos || at > to)
            throw new ArgumentOutOfRangeException(nameof(at));
        stop = at;
        atStop = next;
    }

    public override int Read(char[] buffer, int index, int count) => Read(buffer.AsSpan(index, count));

    public override int Read(Span<char> buffer)
    {
        Reach();
        int n = Math.Min(buffer.Length, stop - pos);
        text.AsSpan(pos, n).CopyTo(buffer);
        pos += n;
        return n;
    }

    public override int Read()
    {
        Reach();
        return pos < stop ? text[pos++] : -1;
    }

    public override int Peek()
    {
        Reach();
        return pos < stop ? text[pos] : -1;
    }

    private void Reach()
    {
        if (pos == stop && atStop is { } next)
        {
            atStop = null;
            pos = next();
            stop = to;
        }
    }
}
