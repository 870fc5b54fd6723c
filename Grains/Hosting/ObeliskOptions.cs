using System.ComponentModel.DataAnnotations;

namespace Pyralog.Grains.Hosting;

/// <summary>How obelisk grains hand out Scarab IDs (configuration section <c>Pyralog:Obelisk</c>).</summary>
public sealed class ObeliskOptions
{
    /// <summary>
    /// How long an activation may issue IDs before renewing its lease; an activation replacing one that vanished
    /// without releasing its lease waits this out (plus <see cref="MaxClockSkew"/>) first.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "10675199.02:48:05.4775807")]
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The largest clock difference between silos the lease tolerates.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "10675199.02:48:05.4775807")]
    public TimeSpan MaxClockSkew { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// How far ahead of its clock an obelisk may issue (an ID's timestamp is never later than clock + lead). Twice this, plus
    /// <see cref="ReserveAhead"/> and <see cref="MaxClockSkew"/>, shorter than half of <see cref="LeaseDuration"/> (validated).
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:00:01")]
    public TimeSpan MaxClockLead { get; set; } = TimeSpan.FromMilliseconds(5);

    /// <summary>
    /// How much time the local counter file reserves per extend + fsync. Larger means fewer fsyncs; after a crash
    /// the obelisk resumes up to this far ahead of the clock. Plus <see cref="MaxClockSkew"/> and twice
    /// <see cref="MaxClockLead"/>, shorter than half of <see cref="LeaseDuration"/> (validated).
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:01:00")]
    public TimeSpan ReserveAhead { get; set; } = TimeSpan.FromMilliseconds(250);
}
