namespace Fw.Kernel;

/// <summary>
/// Where a compiled image came from, as fw_meta records it beside the image: the rules file (an absolute path)
/// and how many prefixes its sets and rules hold.
/// </summary>
public sealed record ImageOrigin(string RulesFile, int Prefixes);
