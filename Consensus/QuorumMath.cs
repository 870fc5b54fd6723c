namespace Pyralog.Consensus;

/// <summary>Quorum arithmetic shared by commit and read confirmation (etcd's quorum package).</summary>
internal static class QuorumMath
{
    /// <summary>
    /// The largest value that at least <paramref name="quorum"/> of the first <paramref name="count"/> values reach:
    /// sorts that prefix of <paramref name="values"/> in place (no allocation).
    /// </summary>
    public static long QuorumValue(long[] values, int count, int quorum)
    {
        Array.Sort(values, 0, count);
        return values[count - quorum];
    }
}
