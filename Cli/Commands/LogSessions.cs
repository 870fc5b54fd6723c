using Pyralog.Cli.Logs;
using Pyralog.Client;

namespace Pyralog.Cli.Commands;

/// <summary>Connecting for a log command, and the one line and exit code a failure ends it with.</summary>
internal static class LogSessions
{
    /// <summary>
    /// Connects, runs <paramref name="body"/> and disposes the session. A failure to connect or a failure of the body is
    /// one line on <paramref name="error"/>: exit 3 when the cluster refused (an <see cref="ArgumentException"/> or
    /// <see cref="InvalidOperationException"/> from it), else exit 1. Ctrl+C (<paramref name="cancellationToken"/>)
    /// that the body does not handle itself is <c>pyralog: interrupted</c> and exit 130.
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
            error.WriteLine("pyralog: interrupted");
            return ExitCodes.Interrupted;
        }

        await using (session)
        {
            try
            {
                return await body(session);
            }
            catch (Exception) when (cancellationToken.IsCancellationRequested)
            {
                error.WriteLine("pyralog: interrupted");
                return ExitCodes.Interrupted;
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

    /// <summary>3 when the cluster refused the request (the exception or one inside it), else 1.</summary>
    public static int ExitCodeOf(Exception e) => Refusal(e) is null ? ExitCodes.ClusterUnreachable : ExitCodes.Refused;

    /// <summary>The refusal's message when the cluster refused, else that the cluster was lost and why.</summary>
    public static string Describe(Exception e) =>
        Refusal(e) is { } refusal ? FirstLine(refusal.Message) : $"lost the cluster: {FirstLine(e.Message)}";

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

    private static Exception? Refusal(Exception e)
    {
        for (Exception? inner = e; inner is not null; inner = inner.InnerException)
        {
            if (inner is ArgumentException or InvalidOperationException && inner is not ObjectDisposedException)
            {
                return inner;
            }
        }

        return null;
    }
}
