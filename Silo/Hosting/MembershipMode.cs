namespace Pyralog.Silo.Hosting;

/// <summary>How silos find each other.</summary>
public enum MembershipMode
{
    /// <summary>One silo on this machine (the default).</summary>
    Localhost,

    /// <summary>Several silo processes on one machine; the one on <see cref="SiloHostOptions.PrimarySiloPort"/> is the primary.</summary>
    Development,

    /// <summary>A real multi-machine cluster with membership (and obelisk leases) in Redis.</summary>
    Redis,
}
