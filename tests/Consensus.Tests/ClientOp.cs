namespace Pyralog.Consensus.Tests;

/// <summary>
/// One operation of the recorded client history. Times are a global event counter (all distinct);
/// <see cref="Return"/> is <see cref="long.MaxValue"/> when the client never learned the outcome (the operation
/// may or may not have taken effect). For a Get, <see cref="Value"/> is the value read.
/// </summary>
public sealed record ClientOp(ClientOpKind Kind, byte Key, long Value, long Invoke, long Return)
{
    public bool Completed => Return != long.MaxValue;

    public override string ToString() =>
        $"{Kind}(k{Key}{(Kind == ClientOpKind.Put ? "=" : "->")}{Value}) [{Invoke},{(Completed ? Return.ToString(System.Globalization.CultureInfo.InvariantCulture) : "inf")}]";
}
