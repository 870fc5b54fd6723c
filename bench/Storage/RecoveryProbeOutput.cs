using System.Globalization;

namespace Pyralog.Bench.Storage;

/// <summary>What the recovery probe (a fresh process reopening the store) printed: its line is "recovery {open s} {next offset}".</summary>
internal static class RecoveryProbeOutput
{
    /// <summary>
    /// The open time in seconds, once the probe exited 0 having recovered every one of the <paramref name="written"/>
    /// records: a replay that stopped early opens faster, and must not pass for a fast recovery.
    /// </summary>
    /// <exception cref="InvalidOperationException">The probe failed, printed no result or recovered another count.</exception>
    public static double OpenSeconds(string output, int exitCode, ulong written)
    {
        if (exitCode != 0)
        {
            throw new InvalidOperationException($"the recovery probe exited with code {exitCode}: {output}");
        }

        var line = output.Split('\n').FirstOrDefault(l => l.StartsWith("recovery ", StringComparison.Ordinal))
            ?? throw new InvalidOperationException($"the recovery probe printed no result: {output}");
        var fields = line.Trim().Split(' ');
        var recovered = ulong.Parse(fields[2], CultureInfo.InvariantCulture);
        if (recovered != written)
        {
            throw new InvalidOperationException($"the recovery probe recovered {recovered:N0} of the {written:N0} records written");
        }

        return double.Parse(fields[1], CultureInfo.InvariantCulture);
    }
}
