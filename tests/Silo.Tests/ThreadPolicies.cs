using System.Globalization;

namespace Pyralog.Silo.Tests;

/// <summary>Reads the Linux scheduling policy of each thread of a process.</summary>
internal static class ThreadPolicies
{
    public const int Other = 0; // SCHED_OTHER
    public const int Batch = 3; // SCHED_BATCH
    public const int Idle = 5; // SCHED_IDLE

    /// <summary>The store's arena warmer lowers itself to SCHED_IDLE whatever the silo's CPU policy (Linux cuts a thread name to 15 bytes).</summary>
    public static bool IsArenaWarmer((string Thread, int Policy) thread) => thread.Thread.EndsWith(" pyralog-arena-w", StringComparison.Ordinal);

    /// <summary>The policy of each thread of process <paramref name="pid"/> (field 41 of <c>/proc/PID/task/TID/stat</c>), by thread name and id.</summary>
    public static IReadOnlyList<(string Thread, int Policy)> Of(int pid)
    {
        var policies = new List<(string, int)>();
        foreach (var entry in Directory.EnumerateDirectories($"/proc/{pid}/task"))
        {
            string stat;
            try
            {
                stat = File.ReadAllText(Path.Combine(entry, "stat"));
            }
            catch (IOException)
            {
                continue; // exited since listed
            }

            // "tid (comm) state ...": the fields after the comm start at the third; the policy is the 41st.
            var open = stat.IndexOf('(');
            var close = stat.LastIndexOf(')');
            var fields = stat[(close + 2)..].Split(' ');
            policies.Add(($"{Path.GetFileName(entry)} {stat[(open + 1)..close]}", int.Parse(fields[41 - 3], CultureInfo.InvariantCulture)));
        }

        return policies;
    }
}
