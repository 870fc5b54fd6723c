namespace Pyralog.Cli.Logs;

/// <summary>Answers of a partition's replicas, asked at once, of which the one furthest along is right.</summary>
internal static class ReplicaAnswers
{
    /// <summary>
    /// The answer with the highest <paramref name="position"/> of those that came: a replica that is behind only ever
    /// answers short of the leader (it has applied less), so the first answer may be too early. Throws the last
    /// failure when none came.
    /// </summary>
    public static async Task<T> FurthestAsync<T>(IReadOnlyList<Task<T>> answers, Func<T, ulong> position)
    {
        var furthest = default(T);
        var any = false;
        Task<T>? failed = null;
        foreach (var answer in answers)
        {
            try
            {
                var value = await answer;
                if (!any || position(value) > position(furthest!))
                {
                    furthest = value;
                    any = true;
                }
            }
            catch (Exception)
            {
                failed = answer;
            }
        }

        // Awaiting a failed answer again throws its exception as it was thrown.
        return any ? furthest! : await (failed ?? throw new ArgumentException("no replica was asked", nameof(answers)));
    }
}
