using Pyralog.Client;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Cli.Cluster;

/// <summary>The <see cref="SiloDrainer"/> of a real cluster: connect with the client, ask, disconnect.</summary>
internal static class ClientSiloDrain
{
    public static async Task<SiloDrainResult> DrainAsync(PyralogClientOptions options, string silo, bool drain, CancellationToken cancellationToken)
    {
        var client = await PyralogClient.ConnectAsync(options, cancellationToken);
        await using (client)
        {
            return await (drain ? client.DrainSiloAsync(silo) : client.UndrainSiloAsync(silo)).WaitAsync(cancellationToken);
        }
    }
}
