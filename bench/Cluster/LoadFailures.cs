namespace Pyralog.Bench.Cluster;

/// <summary>Records that were not acknowledged in a <see cref="LoadDriver"/> run: how many, and the first error.</summary>
internal sealed class LoadFailures
{
    /// <summary>After this many failures the run stops: the system is not serving, and its figures would mean nothing.</summary>
    public const int GiveUpAfter = 100;

    private long _count;
    private Exception? _first;

    public long Count => Interlocked.Read(ref _count);

    public Exception? First => Volatile.Read(ref _first);

    public bool GaveUp => Count >= GiveUpAfter;

    public void Add(Exception error)
    {
        Interlocked.CompareExchange(ref _first, error, null);
        Interlocked.Increment(ref _count);
    }
}
