using System.ComponentModel.DataAnnotations;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Interfaces.Validation;

namespace Pyralog.Client.Logs;

/// <summary>How a <see cref="LogConsumer"/> fetches.</summary>
public sealed record ConsumerOptions
{
    /// <summary>The annotations on these options.</summary>
    internal static readonly SettingsValidator<ConsumerOptions> Validator =
        new(nameof(ConsumerOptions), configurationPath: false, new ConsumerOptionsValidator());

    /// <summary>About how many bytes one fetch returns (at least one record when any is there); at most <see cref="LogSettings.MaxReadBytes"/> (32 MiB).</summary>
    [Range(1, LogSettings.MaxReadBytes)]
    public int MaxBytes { get; init; } = 1 << 20;

    /// <summary>How long a fetch at the end of a partition waits for new records before it asks again (0..20 s, the longest a replica waits).</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:00:20")]
    public TimeSpan MaxWait { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long a fetch may go unanswered beyond <see cref="MaxWait"/> before the consumer tries another replica.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:05:00")]
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long a fetch may go unanswered (beyond <see cref="MaxWait"/> at the end of a partition) before the consumer
    /// also asks the next replica and takes the first answer: a replica whose silo just died is often not answered but
    /// never refused until Orleans declares the silo dead, and without the second call the fetch waited out
    /// <see cref="RequestTimeout"/>. Reads change nothing, so asking two replicas is safe. Not shorter than
    /// <see cref="RequestTimeout"/>: never.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:05:00")]
    public TimeSpan HedgeAfter { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Throws <see cref="ArgumentException"/> naming every wrong setting and its value (its parameter name: the first).</summary>
    public void Validate() => Validator.ThrowIfInvalid(this);
}
