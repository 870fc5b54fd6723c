using System.Runtime.InteropServices;

namespace Pyralog.Silo.Startup;

/// <summary>
/// Ctrl+C, SIGTERM and SIGQUIT from the process's first line on. The host's own handlers (ConsoleLifetime) arrive only
/// when Host.StartAsync begins; before that (settings, the data directory lock, port checks, a Redis probe that may wait
/// seconds) the default action ended the silo with exit code 143 or 130, outside the documented ones and without its
/// "stopped" line, so an operator's stop of a silo that was still checking looked like a crash. These handlers keep the
/// process alive and cancel <see cref="Requested"/>: before the host starts, Program stops there with exit code 0;
/// afterwards the host's handlers stop it as always (cancelling the token again then changes nothing).
/// </summary>
internal sealed class StopSignals : IDisposable
{
    private readonly CancellationTokenSource _requested = new();
    private readonly PosixSignalRegistration[] _registrations;

    public StopSignals()
    {
        _registrations =
        [
            PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal),
            PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal),
            PosixSignalRegistration.Create(PosixSignal.SIGQUIT, OnSignal),
        ];
    }

    /// <summary>Cancelled once a stop was asked for.</summary>
    public CancellationToken Requested => _requested.Token;

    public void Dispose()
    {
        foreach (var registration in _registrations)
        {
            registration.Dispose();
        }

        _requested.Dispose();
    }

    private void OnSignal(PosixSignalContext context)
    {
        context.Cancel = true; // no default action: the silo stops on its own terms
        _requested.Cancel();
    }
}
