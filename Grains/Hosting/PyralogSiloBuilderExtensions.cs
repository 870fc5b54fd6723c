using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Orleans.Storage;

namespace Pyralog.Grains.Hosting;

/// <summary>Adds Pyralog to any Orleans silo.</summary>
public static class PyralogSiloBuilderExtensions
{
    /// <summary>
    /// Registers everything Pyralog adds to a silo: its grains' options (validated at start-up), the clock, and an
    /// in-memory grain storage for obelisk leases unless a provider named <see cref="PyralogStorageNames.Obelisk"/>
    /// is registered already (register a durable one first for multi-machine clusters).
    /// </summary>
    public static ISiloBuilder AddPyralog(this ISiloBuilder builder, Action<PyralogOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = builder.Services.AddOptions<PyralogOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.ValidateOnStart();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<PyralogOptions>, PyralogOptionsValidator>());
        builder.Services.TryAddSingleton(TimeProvider.System);

        var hasObeliskStorage = builder.Services.Any(d =>
            d.ServiceType == typeof(IGrainStorage) && d.IsKeyedService && Equals(d.ServiceKey, PyralogStorageNames.Obelisk));
        if (!hasObeliskStorage)
        {
            builder.AddMemoryGrainStorage(PyralogStorageNames.Obelisk);
        }

        return builder;
    }
}
