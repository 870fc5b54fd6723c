using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Silo.Http;
using Pyralog.Testing;

namespace Pyralog.Silo.Tests.Http;

/// <summary>
/// The metadata group's readiness check reuses a success for 2 s by the monotonic clock: a wall clock stepped back (NTP,
/// a restored VM) kept a stale success fresh for as long as the step, while the group may have lost its quorum. Checks
/// share the call in flight and reuse a failure for 1 s: during an outage each call retries inside the admin grain long
/// after its check gave up, and probes from several sources piled calls on a group trying to elect.
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

    [Fact]
    public async Task Concurrent_checks_share_one_call_to_the_metadata_group()
    {
        var never = new TaskCompletionSource<LogInfo[]>();
        var (admin, script) = ScriptedAdminGrain.Create(() => never.Task);
        var time = new FakeTimeProvider();
        var check = new MetadataGroupHealthCheck(new AdminOnly(admin), time, new RunningLifetime());

        var checks = Enumerable.Range(0, 10).Select(_ => check.CheckHealthAsync(new HealthCheckContext())).ToArray();
        Assert.Equal(1, script.Calls);

        time.Advance(TimeSpan.FromSeconds(5));
        var results = await Task.WhenAll(checks).WaitAsync(TimeSpan.FromSeconds(30)); // real time only if they never complete
        Assert.All(results, r => Assert.Equal((HealthStatus.Unhealthy, "metadata group did not answer: The operation has timed out."), (r.Status, r.Description)));
        Assert.Equal(1, script.Calls);
    }

    [Fact]
    public async Task A_failure_is_reused_for_one_second_then_the_group_is_asked_again()
    {
        var (admin, script) = ScriptedAdminGrain.Create(
            () => Task.FromException<LogInfo[]>(new TimeoutException("no quorum")),
            () => Task.FromResult(new LogInfo[3]));
        var time = new FakeTimeProvider();
        var check = new MetadataGroupHealthCheck(new AdminOnly(admin), time, new RunningLifetime());

        var failed = await check.CheckHealthAsync(new HealthCheckContext());
        Assert.Equal((HealthStatus.Unhealthy, "metadata group did not answer: no quorum", 1), (failed.Status, failed.Description, script.Calls));

        time.Advance(TimeSpan.FromSeconds(1) - TimeSpan.FromTicks(1));
        var reused = await check.CheckHealthAsync(new HealthCheckContext());
        Assert.Equal((HealthStatus.Unhealthy, "metadata group did not answer: no quorum", 1), (reused.Status, reused.Description, script.Calls));

        time.Advance(TimeSpan.FromTicks(1));
        var asked = await check.CheckHealthAsync(new HealthCheckContext());
        Assert.Equal((HealthStatus.Healthy, "metadata group answered: 3 logs", 2), (asked.Status, asked.Description, script.Calls));
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
