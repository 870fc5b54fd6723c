using Pyralog.Cli.Logs;
using Pyralog.Cli.Output;
using Pyralog.Client;
using Pyralog.Client.Logs;

namespace Pyralog.Cli.Commands;

/// <summary>Connecting for a log command, and the one line and exit code a failure ends it with.</summary>
internal static class LogSessions
{
    /// <summary>
    /// Connects, runs <paramref name="body"/> and disposes the session. A failure to connect or a failure of the body is
    /// one line on <paramref name="error"/>: exit 3 when the cluster refused (see <see cref="ExitCodeOf"/>), else exit 1.
    /// Ctrl+C (<paramref name="cancellationToken"/>)
    /// that the body does not handle itself is <c>pyralog: interrupted</c> and exit 130; stdout closed (<c>| head</c>)
    /// ends it quietly with exit 0.
    /// </summary>
    public static async Task<int> RunAsync(
        LogSessionFactory sessions, PyralogClientOptions options, TextWriter error, Func<ILogSession, Task<int>> body, CancellationToken cancellationToken)
    {
        ILogSession session;
        try
        {
            options.Validate();
            session = await sessions(options, cancellationToken);
        }
        catch (Exception e) when (e is ArgumentException or PyralogConnectionException)
        {
            return ConnectFailure(e, error);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return Interrupted(error);
        }

        await using (session)
        {
            try
            {
                return await body(session);
            }
            catch (OutputClosedException)
            {
                return ExitCodes.Ok;
            }
            catch (Exception) when (cancellationToken.IsCancellationRequested)
            {
                return Interrupted(error);
            }
            catch (Exception e)
            {
                error.WriteLine($"pyralog: {Describe(e)}");
                return ExitCodeOf(e);
            }
        }
    }

    /// <summary>No log has the name: exit 3.</summary>
    public static int NoSuchLog(TextWriter error, string name)
    {
        error.WriteLine($"pyralog: no log is named '{name}'.");
        return ExitCodes.Refused;
    }

    /// <summary>Ctrl+C or SIGTERM stopped the command part-way: one line and exit 130.</summary>
    public static int Interrupted(TextWriter error)
    {
        error.WriteLine("pyralog: interrupted");
        return ExitCodes.Interrupted;
    }

    /// <summary>
    /// 3 when the cluster refused the request: an <see cref="ArgumentException"/> or <see cref="InvalidOperationException"/>
    /// (what the admin grain, a replica and the client throw for a request they turn down), or a
    /// <see cref="ProduceException"/> the cluster refused (<see cref="ProduceException.Refused"/>: a batch turned down, a
    /// deleted log). Else 1: a <see cref="ProduceException"/> for a delivery timeout is not a refusal, even when its
    /// last error was a replica's "retry later" <see cref="InvalidOperationException"/>.
    /// </summary>
    public static int ExitCodeOf(Exception e) => Refused(e) ? ExitCodes.Refused : ExitCodes.ClusterUnreachable;

    /// <summary>
    /// The failure's own reason (a <see cref="ProduceException"/>'s names its last error too), after "lost the cluster"
    /// unless the cluster refused.
    /// </summary>
    public static string Describe(Exception e) => Refused(e) ? FirstLine(e.Message) : $"lost the cluster: {FirstLine(e.Message)}";

    /// <summary>
    /// A failure to connect (an <see cref="ArgumentException"/> from options that do not validate, a
    /// <see cref="PyralogConnectionException"/>): writes its one line and returns the exit code, 2 or 1.
    /// </summary>
    public static int ConnectFailure(Exception e, TextWriter error)
    {
        error.WriteLine($"pyralog: {FirstLine(e.Message)}");
        return e is ArgumentException ? ExitCodes.BadInput : ExitCodes.ClusterUnreachable;
    }

    public static string FirstLine(string message)
    {
        var end = message.IndexOfAny(['\r', '\n']);
        return end < 0 ? message : message[..end];
    }

    private static bool Refused(Exception e) => e switch
    {
        ObjectDisposedException => false,
        ArgumentException or InvalidOperationException => true,
        ProduceException { Refused: true } => true,
        _ => false,
    };
}
