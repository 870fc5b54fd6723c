using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Silo.Http;
using Pyralog.Testing;

namespace Pyralog.Silo.Tests.Http;

/// <summary>
/// The metadata group's readiness check reuses a success for 2 s by the monotonic clock: a wall clock stepped back (NTP,
/// a restored VM) kept a stale success fresh for as long as the step, while the group may have lost its quorum.
/// </summary>
public sealed class MetadataGroupHealthCheckTests
{
    [Fact]
    public async Task A_success_is_reused_for_two_seconds_of_monotonic_time_whatever_the_wall_clock_does()
    {
        var (admin, script) = ScriptedAdminGrain.Create(
            () => Task.FromResult(new LogInfo[2]),
            () => Task.FromException<LogInfo[]>(new TimeoutException("no quorum")));
        var time = new SteppingTime();
        var check = new MetadataGroupHealthCheck(new AdminOnly(admin), time, new RunningLifetime());

        var first = await check.CheckHealthAsync(new HealthCheckContext());
        Assert.Equal((HealthStatus.Healthy, "metadata group answered: 2 logs"), (first.Status, first.Description));

        time.Step(wallClock: TimeSpan.FromSeconds(1), monotonic: TimeSpan.FromSeconds(1));
        var reused = await check.CheckHealthAsync(new HealthCheckContext());
        Assert.Equal((HealthStatus.Healthy, 1), (reused.Status, script.Calls));

        // The wall clock steps back an hour while 3 s pass: the success is stale and the group is asked again.
        time.Step(wallClock: TimeSpan.FromHours(-1), monotonic: TimeSpan.FromSeconds(2));
        var stale = await check.CheckHealthAsync(new HealthCheckContext());
        Assert.Equal((HealthStatus.Unhealthy, "metadata group did not answer: no quorum", 2), (stale.Status, stale.Description, script.Calls));
    }

    private sealed class SteppingTime : TimeProvider
    {
        private DateTimeOffset _now = new(2026, 12, 6, 12, 0, 0, TimeSpan.Zero);
        private long _timestamp = 1_000_000;

        public override DateTimeOffset GetUtcNow() => _now;

        public override long GetTimestamp() => _timestamp;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public void Step(TimeSpan wallClock, TimeSpan monotonic)
        {
            _now += wallClock;
            _timestamp += monotonic.Ticks;
        }
    }

    private sealed class AdminOnly(IPyralogAdminGrain admin) : ScriptedGrainFactory
    {
        public override TGrainInterface GetGrain<TGrainInterface>(long primaryKey, string? grainClassNamePrefix = null) =>
            (TGrainInterface)admin;
    }

    private sealed class RunningLifetime : IHostApplicationLifetime
    {
        public CancellationToken ApplicationStarted => CancellationToken.None;

        public CancellationToken ApplicationStopping => CancellationToken.None;

        public CancellationToken ApplicationStopped => CancellationToken.None;

        public void StopApplication() => throw new NotSupportedException();
    }
}
