using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Orleans.TestingHost;
using Pyralog.Grains.Partitions;
using Pyralog.Grains.Tests.Hosting;

namespace Pyralog.Grains.Tests.Partitions;

/// <summary>
/// Three silos whose partitions stamp append times and judge retention by one fake clock (<see cref="Clock"/>, shared
/// by the fixture's silos, advanced by the tests), and whose leaders check retention every 50 ms of real time.
/// </summary>
public sealed class RetentionClusterFixture() : PyralogClusterFixture(3)
{
    private const string ClockKey = "PyralogRetentionClock";
    private static readonly ConcurrentDictionary<string, FakeTimeProvider> Clocks = new();
    private readonly string _id = Guid.NewGuid().ToString("N");

    public FakeTimeProvider Clock => Clocks.GetOrAdd(_id, static _ => new FakeTimeProvider(new DateTimeOffset(2026, 11, 30, 12, 0, 0, TimeSpan.Zero)));

    protected override void Configure(TestClusterBuilder builder)
    {
        _ = Clock;
        builder.Properties[ClockKey] = _id;
        builder.AddSiloBuilderConfigurator<ClockConfigurator>();
    }

    private sealed class ClockConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder)
        {
            var id = siloBuilder.Configuration[ClockKey] ?? throw new InvalidOperationException("no retention clock configured");
            siloBuilder.Services.AddSingleton(new PartitionClock(Clocks[id], TimeSpan.FromMilliseconds(50)));
        }
    }
}
