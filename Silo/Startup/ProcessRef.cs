namespace Pyralog.Silo.Startup;

/// <summary>A process on this machine, as an operator would look it up.</summary>
internal sealed record ProcessRef(int Id, string Name)
{
    public override string ToString() => $"pid {Id} ({Name})";
}
