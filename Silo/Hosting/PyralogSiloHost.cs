using System.Net;
using Pyralog.Grains.Interfaces;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;
using Pyralog.Grains.Hosting;
using Pyralog.Silo.Startup;
using StackExchange.Redis;

namespace Pyralog.Silo.Hosting;

/// <summary>Builds the Pyralog silo process: configuration, membership, Pyralog itself.</summary>
public static class PyralogSiloHost
{
    /// <summary>Command-line switches and the configuration keys they set.</summary>
    public static readonly IReadOnlyDictionary<string, string> Switches = new Dictionary<string, string>
    {
        ["--data-dir"] = "Pyralog:DataDirectory",
        ["--cluster-id"] = "Silo:ClusterId",
        ["--service-id"] = "Silo:ServiceId",
        ["--membership"] = "Silo:Membership",
        ["--address"] = "Silo:Address",
        ["--silo-port"] = "Silo:SiloPort",
        ["--gateway-port"] = "Silo:GatewayPort",
        ["--primary-port"] = "Silo:PrimarySiloPort",
        ["--redis"] = "Silo:RedisConnectionString",
    };

    /// <summary>
    /// A host builder reading appsettings.json, environment variables (<c>PYRALOG_</c> prefix, <c>__</c> for sections)
    /// and command-line switches, in rising precedence.
    /// </summary>
    /// <exception cref="OptionsValidationException">A setting is wrong; the message names each one.</exception>
    /// <exception cref="StartupRefusedException">An unknown switch or a stray word on the command line.</exception>
    public static HostApplicationBuilder CreateBuilder(string[] args)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            Args = [],
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Configuration.AddEnvironmentVariables("PYRALOG_");
        builder.Configuration.AddInMemoryCollection(SiloCommandLine.Parse(args));
        builder.Configuration.AddInMemoryCollection(ReadDurations(builder.Configuration));

        var host = Bind<SiloHostOptions>(builder.Configuration, SiloHostOptions.SectionName);
        var pyralog = Bind<PyralogOptions>(builder.Configuration, PyralogOptions.SectionName);
        var failures = SiloHostOptionsValidator.Validate(host);
        if (failures.Count > 0)
        {
            throw new Microsoft.Extensions.Options.OptionsValidationException(SiloHostOptions.SectionName, typeof(SiloHostOptions), failures);
        }

        builder.Services.AddSingleton(host);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(30));
        builder.Services.AddHostedService<ListeningBanner>();
        builder.UseOrleans(silo =>
        {
            ConfigureMembership(silo, host);
            var address = IPAddress.Parse(host.Address);
            silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(
                new ListenerSharingCheck(new IPEndPoint(address, host.SiloPort), new IPEndPoint(address, host.GatewayPort)));
            silo.AddPyralog(o =>
            {
                o.DataDirectory = pyralog.DataDirectory;
                o.Obelisk = pyralog.Obelisk;
            });
        });
        return builder;
    }

    /// <summary>
    /// Every duration setting, parsed by <see cref="Duration"/> and rewritten in the form the configuration binder reads
    /// (which would take a bare <c>10</c> as ten days).
    /// </summary>
    private static Dictionary<string, string?> ReadDurations(IConfiguration configuration)
    {
        var parsed = new Dictionary<string, string?>();
        var failures = new List<string>();
        foreach (var key in SettingKeys.Durations)
        {
            if (configuration[key] is not { } text)
            {
                continue;
            }

            if (Duration.TryParse(text, out var duration))
            {
                parsed[key] = duration.ToString("c");
            }
            else
            {
                failures.Add($"{key} '{text}' is not a duration: give {Duration.Format}.");
            }
        }

        return failures.Count == 0
            ? parsed
            : throw new Microsoft.Extensions.Options.OptionsValidationException(PyralogOptions.SectionName, typeof(PyralogOptions), failures);
    }

    /// <summary>Binds a section; a value of the wrong type (a port that is no number, an unknown mode) becomes a validation failure naming it.</summary>
    private static T Bind<T>(IConfiguration configuration, string section)
        where T : new()
    {
        try
        {
            return configuration.GetSection(section).Get<T>() ?? new T();
        }
        catch (InvalidOperationException e)
        {
            var reason = e.InnerException is { } inner ? $"{e.Message} {inner.Message}" : e.Message;
            throw new Microsoft.Extensions.Options.OptionsValidationException(section, typeof(T), [reason]);
        }
    }

    private static void ConfigureMembership(ISiloBuilder silo, SiloHostOptions host)
    {
        var address = IPAddress.Parse(host.Address);
        switch (host.Membership)
        {
            case MembershipMode.Localhost:
                silo.UseLocalhostClustering(host.SiloPort, host.GatewayPort, null, host.ServiceId, host.ClusterId);
                break;
            case MembershipMode.Development:
                silo.UseLocalhostClustering(
                    host.SiloPort, host.GatewayPort, new IPEndPoint(address, host.PrimarySiloPort), host.ServiceId, host.ClusterId);
                break;
            case MembershipMode.Redis:
                var redis = ConfigurationOptions.Parse(host.RedisConnectionString!);
                silo.UseRedisClustering(o => o.ConfigurationOptions = redis);
                silo.AddRedisGrainStorage(PyralogStorageNames.Obelisk, o => o.ConfigurationOptions = redis);
                silo.Configure<ClusterOptions>(o =>
                {
                    o.ClusterId = host.ClusterId;
                    o.ServiceId = host.ServiceId;
                });
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(host), host.Membership, "Unknown membership mode.");
        }

        if (address.Equals(IPAddress.Any))
        {
            // Listen on every interface and advertise this host's own address (containers, multi-machine).
            silo.ConfigureEndpoints(Dns.GetHostName(), host.SiloPort, host.GatewayPort, listenOnAnyHostAddress: true);
            return;
        }

        silo.Configure<EndpointOptions>(o =>
        {
            o.AdvertisedIPAddress = address;
            o.SiloPort = host.SiloPort;
            o.GatewayPort = host.GatewayPort;
            o.SiloListeningEndpoint = new IPEndPoint(address, host.SiloPort);
            o.GatewayListeningEndpoint = new IPEndPoint(address, host.GatewayPort);
        });
    }
}
