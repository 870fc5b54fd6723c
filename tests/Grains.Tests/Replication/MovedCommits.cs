using Pyralog.Grains.Metadata;

namespace Pyralog.Grains.Tests.Replication;

/// <summary>
/// Refuses the metadata group's "moved" commands while <see cref="Hold"/> is set, as a commit that timed out would
/// fail its mover. Static: only <see cref="ResumedMoveTests"/>' silos run this filter.
/// </summary>
internal sealed class MovedCommits : IIncomingGrainCallFilter
{
    private static volatile bool s_hold;
    private static long s_refused;

    public static bool Hold
    {
        get => s_hold;
        set => s_hold = value;
    }

    public static long Refused => Interlocked.Read(ref s_refused);

    public Task Invoke(IIncomingGrainCallContext context)
    {
        if (s_hold && context.TargetContext.GrainInstance is IMetadataAdminGrain &&
            context.InterfaceMethod?.Name == nameof(IMetadataAdminGrain.CommitMetadataAsync) &&
            context.Request.GetArgument(0) is byte[] command && MetadataCommand.Decode(command).Kind == "moved")
        {
            Interlocked.Increment(ref s_refused);
            throw new TimeoutException("the test holds \"moved\" commits");
        }

        return context.Invoke();
    }
}
