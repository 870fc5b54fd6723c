using System.ComponentModel.DataAnnotations;
using Pyralog.Grains.Interfaces.Obelisk;
using Pyralog.Grains.Interfaces.Validation;

namespace Pyralog.Client.Obelisk;

/// <summary>How a <see cref="ScarabIdGenerator"/> leases blocks.</summary>
public sealed class ScarabIdGeneratorOptions
{
    /// <summary>The annotations on these options, then the rules across settings.</summary>
    internal static readonly SettingsValidator<ScarabIdGeneratorOptions> Validator =
        new(nameof(ScarabIdGeneratorOptions), configurationPath: false, new ScarabIdGeneratorOptionsValidator(), new ScarabIdGeneratorOptionsRules());

    /// <summary>
    /// The obelisk ids to lease from, in turn. Null: <see cref="Spread"/> consecutive ids from a random start,
    /// so many clients spread over the Pharaoh network. With one id, IDs come out strictly increasing.
    /// </summary>
    [MinLength(1, ErrorMessage = "{0} must not be empty (use null to spread automatically)")]
    public IReadOnlyList<int>? ObeliskIds { get; set; }

    /// <summary>
    /// How many obelisk ids to use when <see cref="ObeliskIds"/> is null. While all of them are late the generator
    /// extends to the adjacent ids, up to four times this many.
    /// </summary>
    public int Spread { get; set; } = 8;

    /// <summary>IDs per leased block (8,192 is one millisecond of one obelisk).</summary>
    [Range(1, ScarabIdBlock.MaxCount)]
    public int BlockSize { get; set; } = ScarabId.SequencesPerMillisecond;

    /// <summary>Blocks kept leased or on their way, so callers rarely wait.</summary>
    [Range(1, 64)]
    public int PrefetchBlocks { get; set; } = 4;

    /// <summary>Attempts per block before a failure reaches the caller (the obelisk reactivates elsewhere meanwhile if its silo died).</summary>
    [Range(1, int.MaxValue)]
    public int MaxAttempts { get; set; } = 40;

    /// <summary>Pause after a failed attempt, growing linearly with the attempt up to one second (the defaults keep trying for about 35 s, longer than a silo failover takes).</summary>
    [Range(typeof(TimeSpan), "00:00:00", "10675199.02:48:05.4775807")]
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// How long a block request may go unanswered before the generator asks another obelisk id as well (the late
    /// request stays outstanding and its block is used if it comes). A caller waits about this long at most while an
    /// obelisk is frozen or gone, provided another obelisk id answers: with <see cref="ObeliskIds"/> fixed to one id
    /// there is nothing to hedge to.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:01:00")]
    public TimeSpan RequestDeadline { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Throws <see cref="ArgumentException"/> naming every wrong setting and its value (its parameter name: the first).</summary>
    public void Validate() => Validator.ThrowIfInvalid(this);
}
