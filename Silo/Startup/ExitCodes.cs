namespace Pyralog.Silo.Startup;

/// <summary>The silo's exit codes, documented in the README.</summary>
public static class ExitCodes
{
    /// <summary>Stopped on request (Ctrl+C, SIGTERM) after a clean shutdown.</summary>
    public const int Stopped = 0;

    /// <summary>The cluster store (Redis) cannot be reached or was lost.</summary>
    public const int ClusterUnreachable = 1;

    /// <summary>Bad input: a wrong setting or switch, a port in use, a data directory that is locked or not writable.</summary>
    public const int BadInput = 2;

    /// <summary>
    /// The silo's store stopped accepting writes after a failure (a write or fdatasync failed), and the silo with it:
    /// restart it to reopen the store. Or the store did not open at start-up (<see cref="Pyralog.Grains.Hosting.SiloStore.OpenFailure"/>).
    /// </summary>
    public const int StoreFailed = 3;
}
