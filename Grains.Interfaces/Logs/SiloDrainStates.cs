namespace Pyralog.Grains.Interfaces.Logs;

/// <summary>
/// What the active silos said of an operator's drain (<see cref="IPyralogAdminGrain.DrainStatesAsync"/>): the full
/// addresses of those that drain, and of those that did not answer in time (they may drain or not).
/// </summary>
[GenerateSerializer, Immutable]
[Alias("pyralog.SiloDrainStates")]
public sealed record SiloDrainStates(
    [property: Id(0)] string[] Draining,
    [property: Id(1)] string[] Unanswered);
