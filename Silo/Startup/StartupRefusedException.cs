namespace Pyralog.Silo.Startup;

/// <summary>The silo will not start; <see cref="Exception.Message"/> is the one line the operator sees.</summary>
public sealed class StartupRefusedException(int exitCode, string message, Exception? inner = null) : Exception(message, inner)
{
    public int ExitCode { get; } = exitCode;
}
