using StackExchange.Redis;

namespace Pyralog.Silo.Startup;

/// <summary>Checks, before Orleans starts, that the Redis holding membership and obelisk leases answers.</summary>
internal static class ClusterStoreProbe
{
    /// <summary>How long the probe waits at most, whatever the connection string says: an operator should hear promptly.</summary>
    private static readonly TimeSpan MaxWait = TimeSpan.FromSeconds(3);

    /// <exception cref="StartupRefusedException">Redis did not answer (exit code 1).</exception>
    /// <exception cref="OperationCanceledException">A stop was asked for while the probe waited (the process then exits).</exception>
    public static async Task EnsureReachableAsync(ConfigurationOptions redis, CancellationToken stopping)
    {
        var probe = ProbeOptions(redis);
        try
        {
            // The client takes no token; a stop leaves the attempt behind, to end with the process.
            await using var connection = await ConnectionMultiplexer.ConnectAsync(probe).WaitAsync(stopping).ConfigureAwait(false);
            await connection.GetDatabase().PingAsync().WaitAsync(stopping).ConfigureAwait(false);
        }
        catch (RedisException e)
        {
            throw new StartupRefusedException(
                ExitCodes.ClusterUnreachable,
                $"cannot reach Redis at {Shared.RedisConnectionString.Endpoints(redis.EndPoints)} (the cluster store for membership and obelisk leases): {Reason(e)}",
                e);
        }
    }

    /// <summary>The connection the probe makes: one attempt, given up after at most <see cref="MaxWait"/>.</summary>
    internal static ConfigurationOptions ProbeOptions(ConfigurationOptions redis)
    {
        var probe = redis.Clone();
        probe.AbortOnConnectFail = true;
        probe.ConnectRetry = 1;
        probe.ConnectTimeout = (int)Math.Min(probe.ConnectTimeout, MaxWait.TotalMilliseconds);
        return probe;
    }

    // StackExchange.Redis explains how to keep retrying; the operator needs what failed.
    private static string Reason(RedisException e) => e switch
    {
        RedisConnectionException { FailureType: var failure } => $"{failure} ({e.InnerException?.Message ?? "no answer"}).",
        _ => e.Message,
    };
}
