namespace Pyralog.Cli.Output;

/// <summary>
/// Nothing reads stdout any more (the reader of its pipe ended, as <c>head</c> does): the command stops printing and
/// ends quietly with exit 0, as at the end of its input.
/// </summary>
internal sealed class OutputClosedException() : IOException("stdout was closed: nothing reads the output any more");
