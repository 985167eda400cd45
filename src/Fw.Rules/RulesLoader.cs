using System.Text;
using System.Text.Unicode;
using YamlDotNet.Core;

namespace Fw.Rules;

/// <summary>
/// rules.yaml in, <see cref="LoadResult"/> out: the ruleset when the file holds no error, and every
/// finding (errors and the analyzer's warnings) with its position. Never throws for bad input: unreadable
/// files, bad bytes and YAML syntax errors are findings like any other.
/// </summary>
public static class RulesLoader
{
    /// <summary>Largest rules file read; a larger one is refused without being read whole.</summary>
    public const long MaxFileBytes = 64L << 20;

    /// <summary>Reads <paramref name="path"/>; set files are found relative to its folder.</summary>
    public static LoadResult Load(string path)
    {
        var d = new DiagnosticBag(path);
        var at = new SourcePos(path, 1, 1);
        byte[]? data = null;
        try
        {
            // A regular file only, refused before it is opened otherwise: a device or a FIFO may never end.
            data = FileBytes.Read(path, MaxFileBytes, out long size);
            if (data is null)
                d.Error(at, $"rules file is too large ({size:N0} bytes; at most {MaxFileBytes >> 20} MiB)", 0);
        }
        catch (Exception e) when (FileBytes.IsReadFailure(e))
        {
            d.Error(at, $"cannot read rules file: {FileBytes.Reason(e)}", 0);
        }
        if (data is null)
            return new LoadResult(null, d.Finish());

        string? text = Decode(data, path, d);
        if (text is null)
            return new LoadResult(null, d.Finish());
        return Run(text, path, Path.GetDirectoryName(path) ?? "", d);
    }

    /// <summary>
    /// Reads rules from memory. <paramref name="fileName"/> names the text in diagnostics;
    /// set files are found relative to <paramref name="baseDirectory"/>.
    /// </summary>
    public static LoadResult Parse(string yamlText, string fileName, string baseDirectory)
    {
        var d = new DiagnosticBag(fileName);
        if (yamlText.Length > MaxFileBytes)
        {
            d.Error(new SourcePos(fileName, 1, 1), $"rules file is too large ({yamlText.Length:N0} characters; at most {MaxFileBytes >> 20} Mi)", 0);
            return new LoadResult(null, d.Finish());
        }
        int nul = yamlText.IndexOf('\0');
        if (nul >= 0)
        {
            var (line, column) = LineColumn(yamlText, nul);
            d.Error(new SourcePos(fileName, line, column), "NUL character: a rules file is text", 1);
            return new LoadResult(null, d.Finish());
        }
        return Run(yamlText, fileName, baseDirectory, d);
    }

    private static LoadResult Run(string text, string file, string baseDirectory, DiagnosticBag d)
    {
        Ruleset? ruleset = null;
        try
        {
            var reader = new RulesReader(text, file, baseDirectory, d);
            reader.Read();
            ruleset = reader.Finish();
        }
        catch (YamlException e)
        {
            var pos = new SourcePos(file, (int)Math.Max(1, e.Start.Line), (int)Math.Max(1, e.Start.Column));
            if (e.Message.Contains("tab", StringComparison.OrdinalIgnoreCase))
                pos = FirstIndentTab(text, pos) ?? pos;
            d.Error(pos, $"invalid YAML: {Sentence(e.Message)}{Hint(text, pos)}", 1);
        }
        catch (Exception e)
        {
            // A bug of ours or of the YAML library must still come out as a finding, never as a crash of fwctl check.
            d.Error(new SourcePos(file, 1, 1), $"internal error while reading the rules: {e.GetType().Name}: {e.Message}", 0);
        }

        if (ruleset is not null)
        {
            try
            {
                d.AddRange(RulesAnalyzer.Warnings(ruleset));
            }
            catch (Exception e)
            {
                d.Add(new Diagnostic(Severity.Warning, new SourcePos(file, 1, 1), $"internal error in the rules analyzer: {e.Message}", 0));
            }
        }
        return new LoadResult(ruleset, d.Finish());
    }

    /// <summary>UTF-8 (with or without a BOM) to text; NUL bytes and invalid UTF-8 are errors at their line and column.</summary>
    private static string? Decode(byte[] data, string file, DiagnosticBag d)
    {
        ReadOnlySpan<byte> bytes = data;
        if (bytes.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]))
            bytes = bytes[3..];
        int nul = bytes.IndexOf((byte)0);
        int bad = Utf8.IsValid(bytes) ? -1 : FileBytes.FirstInvalidUtf8(bytes);
        if (nul >= 0 && (bad < 0 || nul < bad))
        {
            var (line, column) = FileBytes.LineColumn(bytes, nul, lineEndsAsYaml: true);
            d.Error(new SourcePos(file, line, column), "NUL byte: a rules file is text, is this a binary file?", 1);
            return null;
        }
        if (bad >= 0)
        {
            var (line, column) = FileBytes.LineColumn(bytes, bad, lineEndsAsYaml: true);
            d.Error(new SourcePos(file, line, column), $"invalid UTF-8 byte 0x{bytes[bad]:X2}: a rules file is UTF-8 text", 1);
            return null;
        }
        return Encoding.UTF8.GetString(bytes);
    }

    /// <summary>Line and column of character <paramref name="index"/>; \n, \r\n and a lone \r end a line, as in YAML.</summary>
    private static (int Line, int Column) LineColumn(string text, int index)
    {
        int line = 1, start = 0;
        for (int i = 0; i < index; i++)
        {
            if (text[i] == '\n' || (text[i] == '\r' && (i + 1 >= text.Length || text[i + 1] != '\n')))
            {
                line++;
                start = i + 1;
            }
        }
        return (line, index - start + 1);
    }

    /// <summary>
    /// YamlDotNet reports a tab in indentation at the start of the enclosing mapping; the tab itself, on the
    /// first line from there that is indented with one, is where the user must look.
    /// </summary>
    private static SourcePos? FirstIndentTab(string text, SourcePos start)
    {
        var lines = DiagnosticWriter.SplitLines(text);
        for (int i = start.Line - 1; i < lines.Count; i++)
        {
            string line = lines[i];
            int k = 0;
            while (k < line.Length && line[k] is ' ' or '\t')
            {
                if (line[k] == '\t')
                    return start with { Line = i + 1, Column = k + 1 };
                k++;
            }
        }
        return null;
    }

    /// <summary>YamlDotNet's message as the tail of ours: "While parsing X." to "while parsing X".</summary>
    private static string Sentence(string message)
    {
        string m = message.Trim().TrimEnd('.');
        return m.Length > 1 && char.IsUpper(m[0]) && char.IsLower(m[1]) ? char.ToLowerInvariant(m[0]) + m[1..] : m;
    }

    /// <summary>What the user most likely meant when YAML refuses a character ('@' and '!' start no plain scalar).</summary>
    private static string Hint(string text, SourcePos pos)
    {
        int line = 1, i = 0;
        while (line < pos.Line && i < text.Length)
        {
            if (text[i++] == '\n')
                line++;
        }
        int at = i + pos.Column - 1;
        if (at < 0 || at >= text.Length)
            return "";
        return text[at] switch
        {
            '@' => "; quote set references: \"@name\"",
            '`' => "; '`' cannot start a value, quote it",
            '\t' => "; indent with spaces, not tabs",
            _ => "",
        };
    }
}
