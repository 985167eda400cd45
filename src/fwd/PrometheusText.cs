using System.Globalization;
using System.Text;

namespace Fw.Daemon;

/// <summary>
/// The Prometheus text exposition format (version 0.0.4): each family's HELP and TYPE once, then its
/// samples; label values escaped (backslash, double quote, newline).
/// </summary>
public sealed class PrometheusText
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    private readonly StringBuilder _sb = new();

    public void Family(string name, string type, string help) =>
        _sb.Append("# HELP ").Append(name).Append(' ').Append(help.Replace("\\", "\\\\").Replace("\n", "\\n")).Append('\n')
           .Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');

    public void Sample(string name, ulong value, params (string Name, string Value)[] labels) =>
        Sample(name, value.ToString(CultureInfo.InvariantCulture), labels);

    public void Sample(string name, double value, params (string Name, string Value)[] labels) =>
        Sample(name, value.ToString("R", CultureInfo.InvariantCulture), labels);

    private void Sample(string name, string value, (string Name, string Value)[] labels)
    {
        _sb.Append(name);
        if (labels.Length > 0)
        {
            _sb.Append('{');
            for (int i = 0; i < labels.Length; i++)
            {
                if (i > 0)
                    _sb.Append(',');
                _sb.Append(labels[i].Name).Append("=\"").Append(Escape(labels[i].Value)).Append('"');
            }
            _sb.Append('}');
        }
        _sb.Append(' ').Append(value).Append('\n');
    }

    public static string Escape(string v) => v.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n");

    public override string ToString() => _sb.ToString();
}
