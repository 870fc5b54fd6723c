namespace Pyralog.Consensus.Tests;

/// <summary>
/// Checks that a recorded key/value history is linearizable, Wing &amp; Gong style with Lowe's memoization (as in
/// Porcupine): depth-first search for an order of operations consistent with real time (an operation may go next
/// only if it was invoked before every remaining completed operation returned) and with a register's semantics,
/// caching (set of linearized operations, register value) pairs already explored. Keys are independent registers,
/// so the history is split per key (linearizability is compositional). Operations without a response may be
/// linearized at any point after their invocation or not at all.
/// </summary>
public static class LinearizabilityChecker
{
    /// <summary>Null if linearizable, else a description of the first key whose history is not.</summary>
    public static string? Check(IReadOnlyList<ClientOp> history)
    {
        foreach (var group in history.GroupBy(o => o.Key).OrderBy(g => g.Key))
        {
            var ops = group.Where(o => o.Completed || o.Kind == ClientOpKind.Put).OrderBy(o => o.Invoke).ToArray();
            if (!CheckRegister(ops))
            {
                return $"key {group.Key} is not linearizable:\n  " + string.Join("\n  ", ops.Select(o => o.ToString()));
            }
        }

        return null;
    }

    private static bool CheckRegister(ClientOp[] ops)
    {
        var required = 0;
        foreach (var o in ops)
        {
            required += o.Completed ? 1 : 0;
        }

        var words = (ops.Length + 63) / 64;
        var seen = new HashSet<string>();
        return Search(ops, new ulong[words], 0, required, 0, seen);
    }

    private static bool Search(ClientOp[] ops, ulong[] done, long value, int required, int completedDone, HashSet<string> seen)
    {
        if (completedDone == required)
        {
            return true;
        }

        var minReturn = long.MaxValue;
        for (var i = 0; i < ops.Length; i++)
        {
            if (!IsSet(done, i) && ops[i].Return < minReturn)
            {
                minReturn = ops[i].Return;
            }
        }

        for (var i = 0; i < ops.Length; i++)
        {
            var o = ops[i];
            if (IsSet(done, i) || o.Invoke > minReturn)
            {
                continue;
            }

            long next;
            if (o.Kind == ClientOpKind.Put)
            {
                next = o.Value;
            }
            else if (o.Value == value)
            {
                next = value;
            }
            else
            {
                continue;
            }

            done[i / 64] |= 1UL << (i % 64);
            var key = string.Join(',', done) + "|" + next;
            if (seen.Add(key) && Search(ops, done, next, required, completedDone + (o.Completed ? 1 : 0), seen))
            {
                return true;
            }

            done[i / 64] &= ~(1UL << (i % 64));
        }

        return false;
    }

    private static bool IsSet(ulong[] done, int i) => (done[i / 64] & (1UL << (i % 64))) != 0;
}
