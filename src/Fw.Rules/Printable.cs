using System.Text;

namespace Fw.Rules;

/// <summary>
/// Text from rules files, set files, paths and errors as it may be printed: every character a terminal acts on
/// (ESC and the other C0 controls, DEL, the C1 controls such as CSI, the bidirectional overrides, the line and
/// paragraph separators) is shown as <c>\uXXXX</c>, never sent. A rules file holding "\e]0;owned\a" must not
/// retitle, recolour or clear the terminal of whoever checks it.
/// </summary>
public static class Printable
{
    /// <summary>One line: every such character shown, \n, \r and \t included. Clean text is returned as is.</summary>
    public static string Clean(string text) => Escape(text, keepLines: false);

    /// <summary>Several lines: as <see cref="Clean"/>, but \n (and \r\n, as \n) separates lines and tabs stay.</summary>
    public static string CleanLines(string text) => Escape(text, keepLines: true);

    /// <summary>Whether <paramref name="c"/> is shown escaped on one line.</summary>
    public static bool NeedsEscape(char c) =>
        char.IsControl(c)                                   // C0, DEL, C1
        || c is '\u061C' or '\u200E' or '\u200F'            // bidirectional marks
        || c is >= '\u202A' and <= '\u202E'                 // embeddings and overrides
        || c is >= '\u2066' and <= '\u2069'                 // isolates
        || c is '\u2028' or '\u2029';                       // line and paragraph separators

    /// <summary>How <paramref name="c"/> is shown: itself, or \uXXXX.</summary>
    public static string Show(char c) => NeedsEscape(c) ? $"\\u{(int)c:X4}" : c.ToString();

    private static string Escape(string text, bool keepLines)
    {
        int first = 0;
        while (first < text.Length && !(NeedsEscape(text[first]) && !(keepLines && text[first] is '\n' or '\t')))
            first++;
        if (first == text.Length)
            return text;
        var sb = new StringBuilder(text.Length + 16).Append(text, 0, first);
        for (int i = first; i < text.Length; i++)
        {
            char c = text[i];
            if (keepLines && (c is '\n' or '\t'))
                sb.Append(c);
            else if (keepLines && c == '\r' && i + 1 < text.Length && text[i + 1] == '\n')
                continue;   // \r\n: the \n ends the line
            else if (NeedsEscape(c))
                sb.Append("\\u").Append(((int)c).ToString("X4"));
            else
                sb.Append(c);
        }
        return sb.ToString();
    }
}
