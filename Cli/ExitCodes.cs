namespace Pyralog.Cli;

/// <summary>The <c>pyralog</c> exit codes, documented in the README.</summary>
public static class ExitCodes
{
    public const int Ok = 0;

    /// <summary>The cluster could not be reached, or was lost while the command ran.</summary>
    public const int ClusterUnreachable = 1;

    /// <summary>Bad input: an unknown switch, a stray argument, a value that does not parse or is out of range.</summary>
    public const int BadInput = 2;

    /// <summary>
    /// The cluster answered and refused: no log has the name, a log of that name exists with another shape, a record is
    /// over the log's limit.
    /// </summary>
    public const int Refused = 3;

    /// <summary>The cluster took the request but could not finish it in time (a drained silo still leads some partitions).</summary>
    public const int NotFinished = 4;

    /// <summary>Ctrl+C (SIGINT) or SIGTERM stopped a command before it finished (128 + SIGINT, as shells report it).</summary>
    public const int Interrupted = 130;
}
