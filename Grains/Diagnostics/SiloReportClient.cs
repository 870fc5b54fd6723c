using Orleans.Runtime.Services;

namespace Pyralog.Grains.Diagnostics;

/// <summary>Reaches the <see cref="ISiloReportService"/> of a given silo.</summary>
public sealed class SiloReportClient(IServiceProvider services) : GrainServiceClient<ISiloReportService>(services)
{
    public ISiloReportService For(SiloAddress silo) => GetGrainService(silo);

    /// <summary>
    /// Which of <paramref name="silos"/> an operator drains, asked of each at once, and how many did not answer within
    /// <paramref name="timeout"/> (listed as not draining: a caller that acts on the answer must not take it for one).
    /// </summary>
    public async Task<(List<SiloAddress> Draining, int Unanswered)> DrainingAmongAsync(IReadOnlyList<SiloAddress> silos, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var (draining, unanswered) = await DrainStatesAmongAsync(silos, timeout, cancellationToken).ConfigureAwait(false);
        return (draining, unanswered.Count);
    }

    /// <summary>As <see cref="DrainingAmongAsync"/>, naming the silos that did not answer rather than counting them.</summary>
    public async Task<(List<SiloAddress> Draining, List<SiloAddress> Unanswered)> DrainStatesAmongAsync(
        IReadOnlyList<SiloAddress> silos, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(silos);
        var reads = new Task<bool>[silos.Count];
        for (var i = 0; i < silos.Count; i++)
        {
            reads[i] = For(silos[i]).IsDrainingAsync().WaitAsync(timeout, cancellationToken);
        }

        await ((Task)Task.WhenAll(reads)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        var draining = new List<SiloAddress>();
        var unanswered = new List<SiloAddress>();
        for (var i = 0; i < silos.Count; i++)
        {
            if (!reads[i].IsCompletedSuccessfully)
            {
                unanswered.Add(silos[i]);
            }
            else if (reads[i].Result)
            {
                draining.Add(silos[i]);
            }
        }

        return (draining, unanswered);
    }
}
