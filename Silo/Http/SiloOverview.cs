namespace Pyralog.Silo.Http;

/// <summary>
/// A silo in membership as Pyralog's page lists it: its address with generation (<c>127.0.0.1:11111@155075626</c>), its
/// endpoint, status, whether it is the silo answering, and how many partition replicas and leaders it runs.
/// </summary>
internal sealed record SiloOverview(string Address, string Endpoint, string Status, bool Self, int Replicas, int Leaders);
