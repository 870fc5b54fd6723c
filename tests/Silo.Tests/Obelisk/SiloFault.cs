namespace Pyralog.Silo.Tests.Obelisk;

/// <summary>What happens to one non-primary silo in a <see cref="ScarabIdFaultRun"/>.</summary>
internal enum SiloFault
{
    /// <summary>SIGSTOP, then SIGCONT after the fault phase.</summary>
    Freeze,

    /// <summary>SIGKILL.</summary>
    Kill,
}
