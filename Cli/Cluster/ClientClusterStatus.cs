using Pyralog.Client;
using Pyralog.Client.Cluster;

namespace Pyralog.Cli.Cluster;

/// <summary>The <see cref="ClusterStatusSource"/> of a real cluster: connect with the client, ask, disconnect.</summary>
internal static class ClientClusterStatus
{
    public static async Task<ClusterStatus> GetAsync(PyralogClientOptions options, CancellationToken cancellationToken)
    {
        var client = await PyralogClient.ConnectAsync(options, cancellationToken);
        await using (client)
        {
            return await client.GetClusterStatusAsync().WaitAsync(cancellationToken);
        }
    }
}
