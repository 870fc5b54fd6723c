namespace Pyralog.Networking;

/// <summary>Puts an Orleans client's gateway connections on <see cref="InlineSocketTransport"/>.</summary>
public static class InlineSocketClientBuilderExtensions
{
    /// <summary>
    /// Carries this client's Orleans messaging over <see cref="InlineSocketTransport"/> instead of Orleans' socket
    /// transport (the same bytes: any silo answers it). <c>PyralogClient</c> always does.
    /// </summary>
    public static IClientBuilder UseInlineSockets(this IClientBuilder builder)
    {
        InlineSocketTransport.Use(builder.Services);
        return builder;
    }
}
