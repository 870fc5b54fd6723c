using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace Pyralog.Networking;

/// <summary>Binds Orleans' silo and gateway endpoints as <see cref="InlineSocketListener"/>s.</summary>
internal sealed class InlineSocketListenerFactory(ILoggerFactory loggers) : IConnectionListenerFactory
{
    private readonly ILogger _logger = loggers.CreateLogger<InlineSocketConnection>();

    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default) =>
        new(InlineSocketListener.Bind(endpoint, _logger));
}
