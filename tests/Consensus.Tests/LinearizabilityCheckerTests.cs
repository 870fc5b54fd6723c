namespace Pyralog.Consensus.Tests;

/// <summary>The checker accepts linearizable register histories and rejects ones that are not.</summary>
public sealed class LinearizabilityCheckerTests
{
    private static ClientOp Put(byte key, long value, long invoke, long ret) => new(ClientOpKind.Put, key, value, invoke, ret);

    private static ClientOp Get(byte key, long value, long invoke, long ret) => new(ClientOpKind.Get, key, value, invoke, ret);

    [Fact]
    public void SequentialHistoryIsLinearizable() =>
        Assert.Null(LinearizabilityChecker.Check([Put(0, 1, 1, 2), Get(0, 1, 3, 4), Put(0, 2, 5, 6), Get(0, 2, 7, 8)]));

    [Fact]
    public void StaleReadAfterACompletedWriteIsNot() =>
        Assert.NotNull(LinearizabilityChecker.Check([Put(0, 1, 1, 2), Put(0, 2, 3, 4), Get(0, 1, 5, 6)]));

    [Fact]
    public void ConcurrentReadMaySeeEitherValue()
    {
        Assert.Null(LinearizabilityChecker.Check([Put(0, 1, 1, 2), Put(0, 2, 3, 6), Get(0, 1, 4, 5)]));
        Assert.Null(LinearizabilityChecker.Check([Put(0, 1, 1, 2), Put(0, 2, 3, 6), Get(0, 2, 4, 5)]));
    }

    [Fact]
    public void ReadsCannotGoBackInTime() =>
        Assert.NotNull(LinearizabilityChecker.Check([Put(0, 1, 1, 10), Get(0, 1, 2, 3), Get(0, 0, 4, 5)]));

    [Fact]
    public void UnacknowledgedWriteMayOrMayNotHaveHappened()
    {
        Assert.Null(LinearizabilityChecker.Check([Put(0, 7, 1, long.MaxValue), Get(0, 7, 5, 6), Get(0, 7, 8, 9)]));
        Assert.Null(LinearizabilityChecker.Check([Put(0, 7, 1, long.MaxValue), Get(0, 0, 5, 6)]));
        Assert.NotNull(LinearizabilityChecker.Check([Put(0, 7, 1, long.MaxValue), Get(0, 7, 5, 6), Get(0, 0, 8, 9)]));
    }

    [Fact]
    public void KeysAreIndependentRegisters() =>
        Assert.Null(LinearizabilityChecker.Check([Put(0, 1, 1, 2), Put(1, 2, 3, 4), Get(0, 1, 5, 6), Get(1, 2, 7, 8)]));

    [Fact]
    public void ReadOfAValueNeverWrittenIsNot() =>
        Assert.NotNull(LinearizabilityChecker.Check([Put(0, 1, 1, 2), Get(0, 3, 3, 4)]));
}
