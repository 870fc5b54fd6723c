using Pyralog.Client;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Cli.Cluster;

/// <summary>
/// Connects and starts (<c>drain</c> true) or ends the drain of a silo; throws what <see cref="PyralogClient.ConnectAsync"/>
/// and <see cref="PyralogClient.DrainSiloAsync"/> throw (the seam <c>pyralog cluster drain</c> is tested through).
/// </summary>
internal delegate Task<SiloDrainResult> SiloDrainer(PyralogClientOptions options, string silo, bool drain, CancellationToken cancellationToken);
