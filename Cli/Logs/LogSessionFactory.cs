using Pyralog.Client;

namespace Pyralog.Cli.Logs;

/// <summary>Connects a <see cref="ILogSession"/>; throws what <see cref="PyralogClient.ConnectAsync"/> throws.</summary>
internal delegate Task<ILogSession> LogSessionFactory(PyralogClientOptions options, CancellationToken cancellationToken);
