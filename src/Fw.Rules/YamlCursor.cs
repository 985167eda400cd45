using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Fw.Rules;

internal enum NodeKind
{
    Scalar,
    Sequence,
    Mapping,
    Alias,
}

/// <summary>A scalar as written: its text, where it stands, and whether it was quoted.</summary>
internal readonly record struct ScalarNode(string Value, bool Quoted, SourcePos Pos, int Length, bool Exact)
{
    /// <summary>An empty value: nothing after the colon, "~" or "null" unquoted.</summary>
    public bool IsNull => !Quoted && Value is "" or "~" or "null" or "Null" or "NULL";

    /// <summary>
    /// Where character <paramref name="offset"/> of the value stands; the scalar's start when the text on
    /// the page differs from the value (escapes, folded lines).
    /// </summary>
    public SourcePos At(int offset) =>
        Exact ? Pos with { Column = Pos.Column + (Quoted ? 1 : 0) + offset } : Pos;

    public string Describe() => IsNull ? "an empty value" : $"'{RulesReader.Clip(Value)}'";
}

/// <summary>
/// Walks YamlDotNet's event stream (the low-level parser: no representation model, so no alias expansion
/// and no dictionaries that throw on duplicate keys) one node at a time, with every position kept.
/// Anchors and aliases are refused: a "billion laughs" file is an error, never a hang. So are tags, all of them.
/// Nesting deeper than <see cref="MaxDepth"/> stops the read (nothing in a rules file nests past 4).
/// YamlException escapes from every method; the caller reports it.
/// </summary>
internal sealed class YamlCursor : IDisposable
{
    public const int MaxDepth = 32;

    private readonly IParser parser;
    private readonly TextRangeReader reader;
    private readonly DiagnosticBag diagnostics;
    private readonly string file;
    private readonly string text;
    private int depth;
    private Mark start = Mark.Empty, previousStart = Mark.Empty, previousEnd = Mark.Empty;

    // A long list read by two parsers (YamlListSplit): the split under way (one at a time, one splice a read), the worker's item
    // being given (-1: none), the main parser's event held meanwhile (the list's end), and what is added to the main
    // parser's positions once it has gone on past the list (index, line).
    private bool mayStillSplit;
    private YamlListSplit? split;
    private int splitItem = -1;
    private ParsingEvent? held;
    private long shiftIndex, shiftLine;
    private ParsingEvent current = null!;
    private Mark currentStart, currentEnd;

    /// <param name="splitLists">Whether a long list may be read by two parsers at once (<see cref="YamlListSplit"/>).</param>
    public YamlCursor(string text, string file, DiagnosticBag diagnostics, bool splitLists = false)
    {
        reader = new TextRangeReader(text, 0, text.Length);
        parser = new Parser(reader);
        this.text = text;
        this.file = file;
        this.diagnostics = diagnostics;
        mayStillSplit = splitLists;
        Next();
    }

    public ParsingEvent Current => current;

    public SourcePos PosOf(Mark m) => new(file, (int)m.Line, (int)m.Column);

    /// <summary>
    /// Where the current event starts. YamlDotNet gives a single-pair flow mapping ("[a: b]") the start
    /// 1:1; an event never starts before the one ahead of it, so then the previous event's end stands in.
    /// </summary>
    public SourcePos Pos => PosOf(start);

    /// <summary>How many characters the current event covers on its first line (at least 1).</summary>
    public int Length => start.Line == currentEnd.Line ? (int)Math.Max(1, currentEnd.Column - start.Column) : 1;

    public bool AtEnd => Current is MappingEnd or SequenceEnd;

    public NodeKind Kind => Current switch
    {
        Scalar => NodeKind.Scalar,
        SequenceStart => NodeKind.Sequence,
        MappingStart => NodeKind.Mapping,
        AnchorAlias => NodeKind.Alias,
        // Unbalanced event streams happen (YamlDotNet drops a value on some broken input): a YAML error, not a crash.
        _ => throw new YamlException(currentStart, currentEnd, "unexpected end of a mapping or list here"),
    };

    /// <summary>What the current node is, for "expected X, found Y".</summary>
    public string Describe() => Current switch
    {
        Scalar s => ToScalar(s, currentStart, currentEnd).Describe(),
        SequenceStart => "a list",
        MappingStart => "a mapping",
        AnchorAlias => "an alias",
        _ => "nothing",
    };

    public void Next()
    {
        var e = NextEvent(out long dIndex, out long dLine);
        current = e;
        currentStart = Shift(e.Start, dIndex, dLine);
        currentEnd = Shift(e.End, dIndex, dLine);
        start = Before(currentStart, previousStart) ? SkipSeparators(previousEnd) : currentStart;
        previousStart = start;
        previousEnd = currentEnd;
        switch (e)
        {
            case MappingStart or SequenceStart:
                if (++depth > MaxDepth)
                    throw new YamlException(currentStart, currentEnd, $"nesting deeper than {MaxDepth} levels");
                if (mayStillSplit && e is SequenceStart { Style: SequenceStyle.Block } && dIndex == 0 && split is null)
                    Split(e.Start);
                break;
            case MappingEnd or SequenceEnd:
                depth--;
                break;
            case AnchorAlias a:
                diagnostics.Error(PosOf(currentStart), $"YAML aliases are not supported (*{a.Value})", LengthOf(currentStart, currentEnd));
                break;
        }
        if (e is NodeEvent n)
        {
            if (!n.Anchor.IsEmpty)
                diagnostics.Error(PosOf(currentStart), $"YAML anchors are not supported (&{n.Anchor})", n.Anchor.Value.Length + 1);
            if (!n.Tag.IsEmpty)
            {
                var (at, written) = TagOnThePage(n, currentStart);
                string tag = RulesReader.Clip(written);
                string hint = e is Scalar { Value: "" } ? $"; to write '{tag}' as a value, quote it: \"{tag}\"" : "";
                diagnostics.Error(at, $"YAML tag '{tag}' is not supported{hint}", written.Length);
            }
        }
    }

    /// <summary>The next event, and what to add to its positions (index, line): the main parser's, or a split list's worker's.</summary>
    private ParsingEvent NextEvent(out long dIndex, out long dLine)
    {
        if (splitItem >= 0)
        {
            // The worker's part of a split list, then the list's end the main parser gave.
            var sp = split!;
            if (splitItem < sp.Count)
            {
                (dIndex, dLine) = (0, 0);
                return sp.Item(splitItem++);
            }
            splitItem = -1;
            split = null;
            (dIndex, dLine) = (shiftIndex, shiftLine);
            var end = held!;
            held = null;
            return end;
        }
        bool more;
        try
        {
            more = parser.MoveNext();
        }
        catch (Exception failure) when (failure is not YamlException)
        {
            if (split is { Spliced: true } || shiftIndex != 0)
                throw new YamlSplitFailed();
            // YamlDotNet fails on some broken input with a bare InvalidOperationException (no position):
            // report it after the last event that parsed.
            var at = parser.Current?.End ?? Mark.Empty;
            throw new YamlException(at, at, "the YAML parser gave up after this point (an unclosed bracket or quote?)", failure);
        }
        catch (YamlException) when (split is { Spliced: true } || shiftIndex != 0)
        {
            throw new YamlSplitFailed();   // its position is in the text the main parser saw: read the file again
        }
        if (!more)
            throw new InvalidOperationException("read past the end of the YAML stream");
        var e = parser.Current!;
        (dIndex, dLine) = (shiftIndex, shiftLine);
        if (split is { } s)
            return SplitEvent(s, e, out dIndex, out dLine);
        return e;
    }

    /// <summary>An event of the main parser while a list is split: the list's first part, then its end, or the split undone.</summary>
    private ParsingEvent SplitEvent(YamlListSplit s, ParsingEvent e, out long dIndex, out long dLine)
    {
        (dIndex, dLine) = (0, 0);
        bool item = e is Scalar sc && depth == s.Depth && YamlListSplit.IsPlainItem(sc) && e.End.Index <= s.At;
        if (!s.Crossed)
        {
            if (!item)
            {
                s.Abandon();   // not a long list of scalars after all: the main parser reads on past the split point
                split = null;
            }
            return e;
        }
        if (!s.Spliced)
        {
            split = null;   // the worker's part was not a list of scalars: the main parser read it
            return e;
        }
        if (item)
            return e;
        if (e is SequenceEnd && depth == s.Depth && e.Start.Index >= s.At)
        {
            // The first part ended at the split point: the worker's items come now, then this end, moved to its place.
            mayStillSplit = false;   // one splice a read: positions past it are moved
            shiftIndex = s.End - s.At;
            shiftLine = s.Lines;
            held = e;
            splitItem = 1;
            return s.Item(0);
        }
        throw new YamlSplitFailed();
    }

    /// <summary>A long list begins: a worker parses its second part (see <see cref="YamlListSplit"/>).</summary>
    private void Split(Mark listStart)
    {
        var s = YamlListSplit.Plan(text, listStart, depth);
        if (s is null)
            return;
        split = s;
        reader.StopAt(s.At, s.Cross);
    }

    /// <summary>Stops a split list's worker (the read ended early).</summary>
    public void Dispose() => split?.Abandon();

    private static Mark Shift(Mark m, long dIndex, long dLine) =>
        dIndex == 0 && dLine == 0 ? m : new Mark(m.Index + dIndex, m.Line + dLine, m.Column);

    public ScalarNode ReadScalar()
    {
        var s = (Scalar)Current;
        var (from, to) = (currentStart, currentEnd);
        Next();
        return ToScalar(s, from, to);
    }

    /// <summary>Consumes the current node, whatever it holds.</summary>
    public void Skip()
    {
        if (AtEnd)
            return; // a value YamlDotNet left out: nothing to skip
        if (Current is not (MappingStart or SequenceStart))
        {
            Next();
            return;
        }
        int level = depth; // counts the node being skipped; its end brings depth back to level - 1
        do
            Next();
        while (!(AtEnd && depth == level - 1));
        Next();
    }

    /// <summary>Consumes a SequenceStart or MappingStart; loop while !AtEnd, then call <see cref="Leave"/>.</summary>
    public void Enter() => Next();

    public void Leave() => Next();

    private ScalarNode ToScalar(Scalar s, Mark from, Mark to)
    {
        bool quoted = s.Style is ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted
            || (!s.Tag.IsEmpty && s.Tag.Value == "tag:yaml.org,2002:str");
        bool oneLine = from.Line == to.Line;
        int width = oneLine ? (int)(to.Column - from.Column) : 1;
        bool delimited = s.Style is ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted;
        bool exact = oneLine && s.Tag.IsEmpty && width == s.Value.Length + (delimited ? 2 : 0)
            && s.Style is ScalarStyle.Plain or ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted;
        return new ScalarNode(s.Value, quoted, PosOf(from), Math.Max(1, width), exact);
    }

    /// <summary>
    /// The tag of a node as written (<c>!x</c>, <c>!!str</c>, <c>!&lt;...&gt;</c>, a lone <c>!</c>) and where it stands:
    /// after the node's anchor, if any. Every tag is refused, the YAML core ones too: <c>!!python/str drop</c> was
    /// read as drop, and a tag tells other YAML readers of the same file to read the value otherwise.
    /// </summary>
    private (SourcePos At, string Written) TagOnThePage(NodeEvent n, Mark nodeStart)
    {
        long i = nodeStart.Index, column = nodeStart.Column;
        if (i >= 0 && i < text.Length && text[(int)i] == '&')
        {
            // The anchor (refused too) comes first: the tag follows it after blanks, on the same line.
            while (i < text.Length && !IsBlankOrEnd(text[(int)i]))
                (i, column) = (i + 1, column + 1);
            while (i < text.Length && text[(int)i] is ' ' or '\t')
                (i, column) = (i + 1, column + 1);
        }
        if (i < 0 || i >= text.Length || text[(int)i] != '!')
            return (PosOf(nodeStart), n.Tag.Value);   // not where expected: the node and the tag as the parser resolved it
        int from = (int)i, to = from + 1;
        if (to < text.Length && text[to] == '<')
        {
            int close = text.IndexOf('>', to);
            to = close < 0 ? text.Length : close + 1;
        }
        else
        {
            while (to < text.Length && !IsBlankOrEnd(text[to]) && text[to] is not (',' or '[' or ']' or '{' or '}'))
                to++;
        }
        return (new SourcePos(file, (int)nodeStart.Line, (int)column), text[from..to]);
    }

    private static bool IsBlankOrEnd(char c) => c is ' ' or '\t' or '\r' or '\n';

    /// <summary>From <paramref name="m"/> past spaces and commas on its line: where the next node begins.</summary>
    private Mark SkipSeparators(Mark m)
    {
        long i = m.Index, column = m.Column;
        while (i >= 0 && i < text.Length && text[(int)i] is ' ' or ',' or '\t')
        {
            i++;
            column++;
        }
        return new Mark(i, m.Line, column);
    }

    private static bool Before(Mark a, Mark b) => a.Line < b.Line || (a.Line == b.Line && a.Column < b.Column);

    private static int LengthOf(Mark from, Mark to) =>
        from.Line == to.Line ? (int)Math.Max(1, to.Column - from.Column) : 1;
}
