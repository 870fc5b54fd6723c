using Pyralog.Grains.Interfaces.Obelisk;

namespace Pyralog.Client.Obelisk;

/// <summary>How a <see cref="ScarabIdGenerator"/> leases blocks.</summary>
public sealed class ScarabIdGeneratorOptions
{
    /// <summary>
    /// The obelisk ids to lease from, in turn. Null: <see cref="Spread"/> consecutive ids from a random start,
    /// so many clients spread over the Pharaoh network. With one id, IDs come out strictly increasing.
    /// </summary>
    public IReadOnlyList<int>? ObeliskIds { get; set; }

    /// <summary>
    /// How many obelisk ids to use when <see cref="ObeliskIds"/> is null. While all of them are late the generator
    /// extends to the adjacent ids, up to four times this many.
    /// </summary>
    public int Spread { get; set; } = 8;

    /// <summary>IDs per leased block (8,192 is one millisecond of one obelisk).</summary>
    public int BlockSize { get; set; } = ScarabId.SequencesPerMillisecond;

    /// <summary>Blocks kept leased or on their way, so callers rarely wait.</summary>
    public int PrefetchBlocks { get; set; } = 4;

    /// <summary>Attempts per block before a failure reaches the caller (the obelisk reactivates elsewhere meanwhile if its silo died).</summary>
    public int MaxAttempts { get; set; } = 40;

    /// <summary>Pause after a failed attempt, growing linearly with the attempt up to one second (the defaults keep trying for about 35 s, longer than a silo failover takes).</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// How long a block request may go unanswered before the generator asks another obelisk id as well (the late
    /// request stays outstanding and its block is used if it comes). A caller waits about this long at most while an
    /// obelisk is frozen or gone, provided another obelisk id answers: with <see cref="ObeliskIds"/> fixed to one id
    /// there is nothing to hedge to.
    /// </summary>
    public TimeSpan RequestDeadline { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Throws <see cref="ArgumentException"/> naming the first wrong setting.</summary>
    public void Validate()
    {
        if (ObeliskIds is not null)
        {
            if (ObeliskIds.Count == 0)
            {
                throw new ArgumentException("ObeliskIds must not be empty (use null to spread automatically).", nameof(ObeliskIds));
            }

            foreach (var id in ObeliskIds)
            {
                ScarabId.ValidateObeliskId(id);
            }

            if (ObeliskIds.Distinct().Count() != ObeliskIds.Count)
            {
                // Requests to one obelisk id are chained to keep its blocks in order; a repeated id would get two chains.
                throw new ArgumentException("ObeliskIds must not name an obelisk id twice.", nameof(ObeliskIds));
            }
        }
        else if (Spread is < 1 or > ScarabId.MaxObeliskId + 1)
        {
            throw new ArgumentException($"Spread must be in 1..{ScarabId.MaxObeliskId + 1} (was {Spread}).", nameof(Spread));
        }

        if (BlockSize is < 1 or > ScarabIdBlock.MaxCount)
        {
            throw new ArgumentException($"BlockSize must be in 1..{ScarabIdBlock.MaxCount} (was {BlockSize}).", nameof(BlockSize));
        }

        if (PrefetchBlocks is < 1 or > 64)
        {
            throw new ArgumentException($"PrefetchBlocks must be in 1..64 (was {PrefetchBlocks}).", nameof(PrefetchBlocks));
        }

        if (MaxAttempts < 1)
        {
            throw new ArgumentException($"MaxAttempts must be at least 1 (was {MaxAttempts}).", nameof(MaxAttempts));
        }

        if (RetryDelay < TimeSpan.Zero)
        {
            throw new ArgumentException($"RetryDelay must not be negative (was {RetryDelay}).", nameof(RetryDelay));
        }

        if (RequestDeadline < TimeSpan.FromMilliseconds(1) || RequestDeadline > TimeSpan.FromMinutes(1))
        {
            throw new ArgumentException($"RequestDeadline must be between 1 ms and 1 minute (was {RequestDeadline}).", nameof(RequestDeadline));
        }
    }
}
