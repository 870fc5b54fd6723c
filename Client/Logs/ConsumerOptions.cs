namespace Pyralog.Client.Logs;

/// <summary>How a <see cref="LogConsumer"/> fetches.</summary>
public sealed record ConsumerOptions
{
    /// <summary>The longest a replica waits for new records at the end of a partition (the grain's limit).</summary>
    internal static readonly TimeSpan MaxPollWait = TimeSpan.FromSeconds(20);

    /// <summary>About how many bytes one fetch returns (at least one record when any is there).</summary>
    public int MaxBytes { get; init; } = 1 << 20;

    /// <summary>How long a fetch at the end of a partition waits for new records before it asks again (0..20 s).</summary>
    public TimeSpan MaxWait { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long a fetch may go unanswered beyond <see cref="MaxWait"/> before the consumer tries another replica.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Throws <see cref="ArgumentException"/> naming the first wrong setting.</summary>
    public void Validate()
    {
        if (MaxBytes < 1)
        {
            throw new ArgumentException($"MaxBytes must be positive (was {MaxBytes}).", nameof(MaxBytes));
        }

        if (MaxWait < TimeSpan.Zero || MaxWait > MaxPollWait)
        {
            throw new ArgumentException($"MaxWait must be between 0 and {MaxPollWait.TotalSeconds:0} s (was {MaxWait}).", nameof(MaxWait));
        }

        if (RequestTimeout < TimeSpan.FromMilliseconds(1) || RequestTimeout > TimeSpan.FromMinutes(5))
        {
            throw new ArgumentException($"RequestTimeout must be between 1 ms and 5 minutes (was {RequestTimeout}).", nameof(RequestTimeout));
        }
    }
}
