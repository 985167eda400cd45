using Fw.Rules;
using Xunit;

namespace Fw.Tests.Rules;

/// <summary>Parsing helpers for the rules tests: YAML text in, findings or a ruleset out.</summary>
internal static class RulesTestKit
{
    public const string RulesFile = "rules.yaml";

    public static LoadResult Parse(string yaml, string? baseDirectory = null) =>
        RulesLoader.Parse(yaml, RulesFile, baseDirectory ?? Path.GetTempPath());

    public static Ruleset ParseOk(string yaml, string? baseDirectory = null)
    {
        var r = Parse(yaml, baseDirectory);
        Assert.True(r.Ok, "expected no errors, got:\n" + string.Join("\n", r.Errors));
        return r.Ruleset!;
    }

    /// <summary>Asserts one error at line:col whose message contains <paramref name="fragment"/>.</summary>
    public static Diagnostic AssertError(LoadResult r, int line, int column, string fragment, string file = RulesFile)
    {
        Assert.False(r.Ok);
        Assert.Null(r.Ruleset);
        var match = r.Errors.FirstOrDefault(d => d.Pos.File == file && d.Pos.Line == line && d.Pos.Column == column && d.Message.Contains(fragment));
        Assert.True(match is not null,
            $"expected an error at {file}:{line}:{column} containing \"{fragment}\"; got:\n" + string.Join("\n", r.Diagnostics));
        return match!;
    }

    public static Diagnostic AssertWarning(LoadResult r, int line, int column, string fragment)
    {
        var match = r.Warnings.FirstOrDefault(d => d.Pos.Line == line && d.Pos.Column == column && d.Message.Contains(fragment));
        Assert.True(match is not null,
            $"expected a warning at {line}:{column} containing \"{fragment}\"; got:\n" + string.Join("\n", r.Diagnostics));
        return match!;
    }

    /// <summary>A fresh directory under the temp folder, removed on dispose.</summary>
    public sealed class TempDir : IDisposable
    {
        public TempDir()
        {
            Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "fw-rules-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(Path);
        }

        public string Path { get; }

        public string Write(string name, string text)
        {
            string p = System.IO.Path.Combine(Path, name);
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(p)!);
            System.IO.File.WriteAllText(p, text);
            return p;
        }

        public string WriteBytes(string name, byte[] bytes)
        {
            string p = System.IO.Path.Combine(Path, name);
            System.IO.File.WriteAllBytes(p, bytes);
            return p;
        }

        public void Dispose()
        {
            try
            {
                Directory.Delete(Path, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
