using System.ComponentModel;
using System.Globalization;
using System.Net;
using Pyralog.Grains.Interfaces;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.EnvironmentVariables;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Console;
using Microsoft.AspNetCore.Builder;
using Orleans.Configuration;
using Orleans.Dashboard;
using Pyralog.Silo.Http;
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
        ["--http-address"] = "Silo:HttpAddress",
        ["--http-port"] = "Silo:HttpPort",
    };

    /// <summary>The prefix of the environment variables the silo reads (<c>PYRALOG_Silo__SiloPort</c>).</summary>
    private const string EnvironmentPrefix = "PYRALOG_";

    /// <summary>
    /// A host builder reading appsettings.json, environment variables (<c>PYRALOG_</c> prefix, <c>__</c> for sections)
    /// and command-line switches, in rising precedence.
    /// </summary>
    /// <exception cref="OptionsValidationException">A setting is wrong, or a key under <c>Silo</c> or <c>Pyralog</c> is no setting; the message names each one.</exception>
    /// <exception cref="StartupRefusedException">An unknown switch or a stray word on the command line.</exception>
    public static WebApplicationBuilder CreateBuilder(string[] args) => CreateBuilder(args, addSources: null);

    /// <summary><see cref="CreateBuilder(string[])"/> with <paramref name="addSources"/> adding configuration sources between the environment and the command line (tests).</summary>
    /// <inheritdoc cref="CreateBuilder(string[])" path="/exception"/>
    internal static WebApplicationBuilder CreateBuilder(string[] args, Action<IConfigurationBuilder>? addSources)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = [],
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Configuration.AddEnvironmentVariables(EnvironmentPrefix);
        addSources?.Invoke(builder.Configuration);
        builder.Configuration.AddInMemoryCollection(SiloCommandLine.Parse(args));
        RefuseUnknownKeys(builder.Configuration);
        builder.Configuration.AddInMemoryCollection(ReadSettings(builder.Configuration));

        var host = Bind<SiloHostOptions>(builder.Configuration, SiloHostOptions.SectionName);
        var pyralog = Bind<PyralogOptions>(builder.Configuration, PyralogOptions.SectionName);
        var failures = Validate(host);
        if (failures.Count > 0)
        {
            throw new Microsoft.Extensions.Options.OptionsValidationException(SiloHostOptions.SectionName, typeof(SiloHostOptions), failures);
        }

        builder.Services.AddSingleton(host);

        // A console that is not read fast enough (a paused terminal, a slow log shipper, a parent process busy elsewhere)
        // must not stop the silo: with .NET's default, once the logger's queue is full every thread that logs waits for
        // the console, the thread pool stalls and the silo answers nothing. Lines are dropped instead (the console logger
        // says how many).
        builder.Services.Configure<ConsoleLoggerOptions>(o => o.QueueFullMode = ConsoleLoggerQueueFullMode.DropWrite);
        Pyralog.Grains.Diagnostics.ReplicationInstruments.TagPartitions = host.PartitionMetrics;
        builder.Services.AddHostedService<ListeningBanner>();
        if (host.CpuScheduling == CpuScheduling.Batch)
        {
            builder.Services.AddHostedService<ThreadScheduling>();
        }
        SiloHttpEndpoint.AddServices(builder, host);
        var firstOrleansDescriptor = builder.Services.Count;
        builder.UseOrleans(silo =>
        {
            silo.UseInlineSockets();
            ConfigureMembership(silo, host);
            silo.Configure<ClusterMembershipOptions>(o =>
            {
                if (host.ProbeTimeout is { } probe)
                {
                    o.ProbeTimeout = probe;
                }

                if (host.MissedProbesLimit is { } missed)
                {
                    o.NumMissedProbesLimit = missed;
                }
            });
            silo.Configure<DeploymentLoadPublisherOptions>(o => o.DeploymentLoadPublisherRefreshTime = host.LoadStatisticsInterval);
            var address = IPAddress.Parse(host.Address);
            silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(
                new ListenerSharingCheck(new IPEndPoint(address, host.SiloPort), new IPEndPoint(address, host.GatewayPort)));
            silo.AddPyralog(o =>
            {
                o.DataDirectory = pyralog.DataDirectory;
                o.Obelisk = pyralog.Obelisk;
                o.Replication = pyralog.Replication;
                o.MetadataReplicas = pyralog.MetadataReplicas;
                o.RefoundMetadataGroup = pyralog.RefoundMetadataGroup;
                o.Store = pyralog.Store;
            });
            silo.AddActivityPropagation();
            if (host.Dashboard)
            {
                silo.AddDashboard(o => o.HideTrace = !host.DashboardTrace);
            }
        });
        SiloInsideHttpLifetime.Wrap(builder.Services, firstOrleansDescriptor);
        return builder;
    }

    /// <summary>The silo process: <see cref="CreateBuilder"/>, built, with its HTTP endpoints mapped.</summary>
    /// <inheritdoc cref="CreateBuilder" path="/exception"/>
    public static WebApplication Build(string[] args)
    {
        var app = CreateBuilder(args).Build();
        SiloHttpEndpoint.Map(app, app.Services.GetRequiredService<SiloHostOptions>());
        return app;
    }

    /// <summary>
    /// Checks every setting that is not text before binding, naming the key (and its switch) and what it must be, and
    /// rewrites durations (<see cref="Duration"/>) in the form the configuration binder reads: the binder would take a
    /// bare <c>10</c> as ten days.
    /// </summary>
    private static Dictionary<string, string?> ReadSettings(IConfiguration configuration)
    {
        var durations = new Dictionary<string, string?>();
        var failures = new List<string>();
        foreach (var (key, type) in SettingKeys.Types)
        {
            if (configuration[key] is not { } text || type == typeof(string))
            {
                continue;
            }

            var name = WithSwitch(key);
            if (type == typeof(TimeSpan))
            {
                if (Duration.TryParse(text, out var duration))
                {
                    durations[key] = duration.ToString("c");
                }
                else
                {
                    failures.Add($"{name} '{text}' is not a duration: give {Duration.Format}.");
                }
            }
            else if (type.IsEnum)
            {
                // By name only: the binder would also take a number, or a sum of flags.
                var names = Enum.GetNames(type).Select(n => n.ToLowerInvariant()).ToList();
                if (!names.Contains(text.Trim(), StringComparer.OrdinalIgnoreCase))
                {
                    failures.Add($"{name} '{text}' must be {string.Join(", ", names[..^1])} or {names[^1]}.");
                }
            }
            else if (type == typeof(int))
            {
                if (!int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _))
                {
                    failures.Add($"{name} '{text}' is not a whole number.");
                }
            }
            else if (!Converts(type, text))
            {
                failures.Add($"{name} '{text}' is not a valid {type.Name}.");
            }
        }

        return failures.Count == 0
            ? durations
            : throw new Microsoft.Extensions.Options.OptionsValidationException(PyralogOptions.SectionName, typeof(PyralogOptions), failures);
    }

    /// <summary>
    /// Refuses every key under <c>Silo</c> and <c>Pyralog</c> that no option reads, from any source (a misspelt
    /// <c>PYRALOG_Silo__Membershp</c> or appsettings.json entry), naming it and where it was set: the binder would ignore
    /// it and the silo start on the default. Keys outside these sections (<c>Logging</c>, <c>Orleans</c>) are others'.
    /// </summary>
    private static void RefuseUnknownKeys(IConfiguration configuration)
    {
        var failures = new List<string>();
        foreach (var section in new[] { SiloHostOptions.SectionName, PyralogOptions.SectionName })
        {
            // Leaves only: a section's own entry has no value unless a source set the section itself (PYRALOG_Silo=x).
            foreach (var (key, value) in configuration.GetSection(section).AsEnumerable())
            {
                if (value is not null && !SettingKeys.IsKnown(key))
                {
                    var suggestion = SettingKeys.Closest(key) is { } closest ? $" (did you mean {closest}?)" : "";
                    failures.Add($"unknown setting '{key}'{Origin(configuration, key)}{suggestion} (see --help).");
                }
            }
        }

        if (failures.Count > 0)
        {
            failures.Sort(StringComparer.Ordinal);
            throw new Microsoft.Extensions.Options.OptionsValidationException(SiloHostOptions.SectionName, typeof(SiloHostOptions), failures);
        }
    }

    /// <summary>" in /app/appsettings.json" or " in environment variable PYRALOG_Silo__Membershp": the source whose value of <paramref name="key"/> wins, where it can be told.</summary>
    private static string Origin(IConfiguration configuration, string key)
    {
        if (configuration is not IConfigurationRoot root)
        {
            return "";
        }

        foreach (var provider in root.Providers.Reverse())
        {
            if (provider.TryGet(key, out _))
            {
                return provider switch
                {
                    FileConfigurationProvider file => $" in {file.Source.FileProvider?.GetFileInfo(file.Source.Path ?? "").PhysicalPath ?? file.Source.Path}",
                    EnvironmentVariablesConfigurationProvider => $" in environment variable {EnvironmentVariable(key)}",
                    _ => "",
                };
            }
        }

        return "";
    }

    /// <summary>The environment variable that sets <paramref name="key"/>, the prefixed one first (<c>PYRALOG_Silo__Membershp</c>, else <c>Silo__Membershp</c>).</summary>
    private static string EnvironmentVariable(string key)
    {
        string? plain = null;
        foreach (System.Collections.DictionaryEntry variable in Environment.GetEnvironmentVariables())
        {
            var name = (string)variable.Key;
            var asKey = name.Replace("__", ":", StringComparison.Ordinal);
            if (asKey.Equals(EnvironmentPrefix + key, StringComparison.OrdinalIgnoreCase))
            {
                return name;
            }

            if (asKey.Equals(key, StringComparison.OrdinalIgnoreCase))
            {
                plain = name;
            }
        }

        return plain ?? key.Replace(":", "__", StringComparison.Ordinal);
    }

    /// <summary>Every wrong setting of <paramref name="host"/>, each named by its key and, where it has one, its switch.</summary>
    internal static IReadOnlyList<string> Validate(SiloHostOptions host) =>
        (SiloHostOptions.Validator.Validate(null, host).Failures ?? [])
            .Select(failure => failure.Split(' ', 2) is [var key, var rest] ? $"{WithSwitch(key)} {rest}" : failure)
            .ToList();

    /// <summary>A configuration key with the command-line switch that sets it, if one does: <c>Silo:SiloPort (--silo-port)</c>.</summary>
    private static string WithSwitch(string key) =>
        Switches.FirstOrDefault(s => s.Value == key) is { Key: { } flag } ? $"{key} ({flag})" : key;

    private static bool Converts(Type type, string text)
    {
        try
        {
            TypeDescriptor.GetConverter(type).ConvertFromInvariantString(text);
            return true;
        }
        catch (Exception e) when (e is FormatException or ArgumentException or NotSupportedException || e.InnerException is FormatException)
        {
            return false;
        }
    }

    private static T Bind<T>(IConfiguration configuration, string section)
        where T : new() =>
        configuration.GetSection(section).Get<T>() ?? new T();

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
