using Pyralog.Grains.Metadata;

namespace Pyralog.Grains.Tests.Metadata;

/// <summary>
/// Holds every metadata replica's bootstrap before it leaves the founding silo, until <see cref="Release"/>, and records
/// each bootstrap's answer, so a test can act between the founding's preparations and its bootstraps. Static: only
/// <see cref="MetadataFoundingRaceTests"/>' silos run this filter, and it is held from their start.
/// </summary>
internal sealed class HeldMetadataBootstraps : IOutgoingGrainCallFilter
{
    private static readonly TaskCompletionSource<bool> s_reached = New();
    private static readonly TaskCompletionSource<bool> s_released = New();
    private static readonly List<(string Replica, bool Founded)> s_answers = [];

    /// <summary>Completes when the first bootstrap is held.</summary>
    public static Task Reached => s_reached.Task;

    /// <summary>Each bootstrap's replica and whether it founded the group there, in the order they answered.</summary>
    public static IReadOnlyList<(string Replica, bool Founded)> Answers
    {
        get
        {
            lock (s_answers)
            {
                return [.. s_answers];
            }
        }
    }

    public static void Release() => s_released.TrySetResult(true);

    public async Task Invoke(IOutgoingGrainCallContext context)
    {
        if (context.InterfaceMethod.DeclaringType != typeof(IMetadataReplicaGrain) || context.InterfaceMethod.Name != nameof(IMetadataReplicaGrain.BootstrapAsync))
        {
            await context.Invoke();
            return;
        }

        s_reached.TrySetResult(true);
        await s_released.Task;
        await context.Invoke();
        lock (s_answers)
        {
            s_answers.Add((context.TargetId.Key.ToString()!, (bool)context.Result!));
        }
    }

    private static TaskCompletionSource<bool> New() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
