namespace Pyralog.Networking;

/// <summary>Puts an Orleans client's gateway connections on <see cref="InlineSocketTransport"/>.</summary>
public static class InlineSocketClientBuilderExtensions
{
    /// <summary>
    /// Carries this client's Orleans messaging over <see cref="InlineSocketTransport"/> instead of Orleans' socket
    /// transport (the bytes on the wire are the same); <c>PyralogClient</c> calls it.
    /// </summary>
    public static IClientBuilder UseInlineSockets(this IClientBuilder builder)
    {
        InlineSocketTransport.Use(builder.Services);
        return builder;
    }
}
