namespace Pyralog.Grains.Diagnostics;

/// <summary>
/// The replicas active on one silo, by whether they lead their group (leader balancing): <see cref="Leaders"/>, and
/// <see cref="Followers"/> that run on their home silo (a replica away from home is about to leave; it would hand a
/// leadership given to it straight on), and whether an operator drains the silo (<see cref="Replication.SiloMaintenance"/>:
/// it is given no leadership).
/// </summary>
[GenerateSerializer, Immutable]
[Alias("pyralog.SiloLeadership")]
public sealed record SiloLeadership(
    [property: Id(0)] string[] Leaders,
    [property: Id(1)] string[] Followers,
    [property: Id(2)] bool Draining = false);
