using System.Globalization;
using System.Runtime.InteropServices;

namespace Pyralog.Bench.Harness;

/// <summary>CPU time and resident memory of a process, read from /proc (Linux).</summary>
internal static partial class ProcessUsage
{
    private const int ClockTicksName = 2; // _SC_CLK_TCK

    /// <summary>Clock ticks per second of the utime/stime fields (USER_HZ, 100 almost everywhere).</summary>
    private static long TicksPerSecond { get; } = Math.Max(1, SysConf(ClockTicksName));

    /// <summary>utime + stime of <paramref name="pid"/>, in clock ticks.</summary>
    private static long CpuTicks(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");

        // The command name (field 2) is in parentheses and may hold spaces: count fields after its closing one.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture); // fields 14 and 15
    }

    /// <summary>
    /// CPU time the processes have used so far (utime + stime), skipping any that exited: what a figure per record
    /// divides when the difference of two samples is taken.
    /// </summary>
    public static TimeSpan CpuTime(IEnumerable<int> pids)
    {
        long ticks = 0;
        foreach (var pid in pids)
        {
            try
            {
                ticks += CpuTicks(pid);
            }
            catch (IOException)
            {
                // exited between listing and reading (a failover case's killed server)
            }
        }

        return TimeSpan.FromSeconds((double)ticks / TicksPerSecond);
    }

    /// <summary>VmRSS of <paramref name="pid"/>, in bytes.</summary>
    public static long ResidentBytes(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
            }
        }

        throw new InvalidOperationException($"/proc/{pid}/status has no VmRSS");
    }

    [LibraryImport("libc", EntryPoint = "sysconf")]
    private static partial long SysConf(int name);
}
