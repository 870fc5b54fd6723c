using Pyralog.Client;
using Pyralog.Client.Cluster;

namespace Pyralog.Cli.Cluster;

/// <summary>Connects and reads the cluster's status; throws what <see cref="PyralogClient.ConnectAsync"/> throws (the seam the cluster commands are tested through).</summary>
internal delegate Task<ClusterStatus> ClusterStatusSource(PyralogClientOptions options, CancellationToken cancellationToken);
