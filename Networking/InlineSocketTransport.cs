using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Pyralog.Networking;

/// <summary>
/// Puts <see cref="InlineSocketConnection"/> under Orleans' messaging in place of Orleans' socket transport. The bytes
/// on the wire are those of Orleans' transport; only which thread runs what changes.
/// </summary>
public static class InlineSocketTransport
{
    /// <summary>
    /// Replaces every connection factory and listener factory Orleans registered in <paramref name="services"/> (keyed:
    /// silo-to-silo, gateway, client): call it inside <c>UseOrleans</c> or <c>UseOrleansClient</c>, where Orleans'
    /// defaults are already registered.
    /// </summary>
    /// <exception cref="InvalidOperationException">Orleans' transport is not registered in <paramref name="services"/>.</exception>
    public static void Use(IServiceCollection services)
    {
        var keys = new List<(Type Service, object Key)>();
        foreach (var descriptor in services)
        {
            if (descriptor.IsKeyedService &&
                (descriptor.ServiceType == typeof(IConnectionFactory) || descriptor.ServiceType == typeof(IConnectionListenerFactory)))
            {
                keys.Add((descriptor.ServiceType, descriptor.ServiceKey!));
            }
        }

        if (keys.Count == 0)
        {
            throw new InvalidOperationException(
                "Orleans' connection factories are not registered yet: use the inline socket transport inside UseOrleans or UseOrleansClient");
        }

        foreach (var (service, key) in keys)
        {
            if (service == typeof(IConnectionFactory))
            {
                services.AddKeyedSingleton<IConnectionFactory>(key, static (provider, _) =>
                    new InlineSocketConnectionFactory(provider.GetRequiredService<ILoggerFactory>()));
            }
            else
            {
                services.AddKeyedSingleton<IConnectionListenerFactory>(key, static (provider, _) =>
                    new InlineSocketListenerFactory(provider.GetRequiredService<ILoggerFactory>()));
            }
        }
    }
}
