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
internal sealed class YamlCursor
{
    public const int MaxDepth = 32;

    private readonly IParser parser;
    private readonly DiagnosticBag diagnostics;
    private readonly string file;
    private readonly string text;
    private int depth;
    private Mark start = Mark.Empty, previousStart = Mark.Empty, previousEnd = Mark.Empty;

    public YamlCursor(string text, string file, DiagnosticBag diagnostics)
    {
        parser = new Parser(new StringReader(text));
        this.text = text;
        this.file = file;
        this.diagnostics = diagnostics;
        Next();
    }

    public ParsingEvent Current => parser.Current!;

    public SourcePos PosOf(Mark m) => new(file, (int)m.Line, (int)m.Column);

    /// <summary>
    /// Where the current event starts. YamlDotNet gives a single-pair flow mapping ("[a: b]") the start
    /// 1:1; an event never starts before the one ahead of it, so then the previous event's end stands in.
    /// </summary>
    public SourcePos Pos => PosOf(start);

    /// <summary>How many characters the current event covers on its first line (at least 1).</summary>
    public int Length => start.Line == Current.End.Line ? (int)Math.Max(1, Current.End.Column - start.Column) : 1;

    public bool AtEnd => Current is MappingEnd or SequenceEnd;

    public NodeKind Kind => Current switch
    {
        Scalar => NodeKind.Scalar,
        SequenceStart => NodeKind.Sequence,
        MappingStart => NodeKind.Mapping,
        AnchorAlias => NodeKind.Alias,
        // Unbalanced event streams happen (YamlDotNet drops a value on some broken input): a YAML error, not a crash.
        _ => throw new YamlException(Current.Start, Current.End, "unexpected end of a mapping or list here"),
    };

    /// <summary>What the current node is, for "expected X, found Y".</summary>
    public string Describe() => Current switch
    {
        Scalar s => ToScalar(s).Describe(),
        SequenceStart => "a list",
        MappingStart => "a mapping",
        AnchorAlias => "an alias",
        _ => "nothing",
    };

    public void Next()
    {
        bool more;
        try
        {
            more = parser.MoveNext();
        }
        catch (Exception failure) when (failure is not YamlException)
        {
            // YamlDotNet fails on some broken input with a bare InvalidOperationException (no position):
            // report it after the last event that parsed.
            var at = parser.Current?.End ?? Mark.Empty;
            throw new YamlException(at, at, "the YAML parser gave up after this point (an unclosed bracket or quote?)", failure);
        }
        if (!more)
            throw new InvalidOperationException("read past the end of the YAML stream");
        var e = parser.Current!;
        start = Before(e.Start, previousStart) ? SkipSeparators(previousEnd) : e.Start;
        previousStart = start;
        previousEnd = e.End;
        switch (e)
        {
            case MappingStart or SequenceStart:
                if (++depth > MaxDepth)
                    throw new YamlException(e.Start, e.End, $"nesting deeper than {MaxDepth} levels");
                break;
            case MappingEnd or SequenceEnd:
                depth--;
                break;
            case AnchorAlias a:
                diagnostics.Error(PosOf(a.Start), $"YAML aliases are not supported (*{a.Value})", LengthOf(a));
                break;
        }
        if (e is NodeEvent n)
        {
            if (!n.Anchor.IsEmpty)
                diagnostics.Error(PosOf(n.Start), $"YAML anchors are not supported (&{n.Anchor})", n.Anchor.Value.Length + 1);
            if (!n.Tag.IsEmpty)
            {
                var (at, written) = TagOnThePage(n);
                string tag = RulesReader.Clip(written);
                string hint = e is Scalar { Value: "" } ? $"; to write '{tag}' as a value, quote it: \"{tag}\"" : "";
                diagnostics.Error(at, $"YAML tag '{tag}' is not supported{hint}", written.Length);
            }
        }
    }

    public ScalarNode ReadScalar()
    {
        var s = (Scalar)Current;
        Next();
        return ToScalar(s);
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

    private ScalarNode ToScalar(Scalar s)
    {
        bool quoted = s.Style is ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted
            || (!s.Tag.IsEmpty && s.Tag.Value == "tag:yaml.org,2002:str");
        bool oneLine = s.Start.Line == s.End.Line;
        int width = oneLine ? (int)(s.End.Column - s.Start.Column) : 1;
        bool delimited = s.Style is ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted;
        bool exact = oneLine && s.Tag.IsEmpty && width == s.Value.Length + (delimited ? 2 : 0)
            && s.Style is ScalarStyle.Plain or ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted;
        return new ScalarNode(s.Value, quoted, PosOf(s.Start), Math.Max(1, width), exact);
    }

    /// <summary>
    /// The tag of a node as written (<c>!x</c>, <c>!!str</c>, <c>!&lt;...&gt;</c>, a lone <c>!</c>) and where it stands:
    /// after the node's anchor, if any. Every tag is refused, the YAML core ones too: <c>!!python/str drop</c> was
    /// read as drop, and a tag tells other YAML readers of the same file to read the value otherwise.
    /// </summary>
    private (SourcePos At, string Written) TagOnThePage(NodeEvent n)
    {
        long i = n.Start.Index, column = n.Start.Column;
        if (i >= 0 && i < text.Length && text[(int)i] == '&')
        {
            // The anchor (refused too) comes first: the tag follows it after blanks, on the same line.
            while (i < text.Length && !IsBlankOrEnd(text[(int)i]))
                (i, column) = (i + 1, column + 1);
            while (i < text.Length && text[(int)i] is ' ' or '\t')
                (i, column) = (i + 1, column + 1);
        }
        if (i < 0 || i >= text.Length || text[(int)i] != '!')
            return (PosOf(n.Start), n.Tag.Value);   // not where expected: the node and the tag as the parser resolved it
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
        return (new SourcePos(file, (int)n.Start.Line, (int)column), text[from..to]);
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

    private static int LengthOf(ParsingEvent e) =>
        e.Start.Line == e.End.Line ? (int)Math.Max(1, e.End.Column - e.Start.Column) : 1;
}
