using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Pyralog.Grains.Hosting;
using Pyralog.Silo.Hosting;
using Pyralog.Silo.Startup;
using StackExchange.Redis;

// dotnet run --project Silo [--data-dir DIR] [--silo-port N] [--gateway-port N] [--membership localhost|development|redis] ...
// Exit codes: 0 stopped, 1 cluster store unreachable or lost, 2 bad input, 3 the silo's store failed or did not open (ExitCodes).
if (args.Any(a => a is "--help" or "-h"))
{
    Console.WriteLine("Pyralog silo. Settings come from appsettings.json, environment variables (PYRALOG_Section__Key),");
    Console.WriteLine("configuration keys on the command line (--Pyralog:Obelisk:LeaseDuration 10s) and these switches:");
    foreach (var (name, key) in PyralogSiloHost.Switches)
    {
        Console.WriteLine($"  {name,-16} {key}");
    }

    Console.WriteLine($"Durations: {Duration.Format}.");
    Console.WriteLine("Exit codes: 0 stopped, 1 cluster store unreachable or lost, 2 bad input, 3 the silo's store failed or did not open.");
    return ExitCodes.Stopped;
}

using var stopSignals = new StopSignals();
try
{
    using var host = PyralogSiloHost.Build(args);
    using var stopOnSignal = stopSignals.Requested.Register(host.Lifetime.StopApplication);
    using var dataLock = await StartupChecks.RunAsync(host.Services, stopSignals.Requested);
    var siloStore = host.Services.GetRequiredService<SiloStore>();
    stopSignals.Requested.ThrowIfCancellationRequested();
    if (await StartAsync(host, siloStore))
    {
        await host.WaitForShutdownAsync();
    }

    if (siloStore.OpenFailure is { } unopened)
    {
        // Orleans logged its failed start on stdout; the operator's line says why.
        Console.Error.WriteLine($"pyralog silo: the store did not open: {unopened.Message.ReplaceLineEndings(" ")}");
        return ExitCodes.StoreFailed;
    }

    if (siloStore.Failure is { } failure)
    {
        Console.Error.WriteLine($"pyralog silo: the store stopped accepting writes after a failure ({failure.Message.ReplaceLineEndings(" ")}); restart the silo: acknowledged data is intact on disk");
        return ExitCodes.StoreFailed;
    }

    return ExitCodes.Stopped;
}
catch (OperationCanceledException) when (stopSignals.Requested.IsCancellationRequested)
{
    // Stopped before the host started: nothing ran yet that needs stopping.
    Console.WriteLine(ListeningBanner.StoppedLine);
    return ExitCodes.Stopped;
}
catch (OptionsValidationException e)
{
    foreach (var failure in e.Failures)
    {
        Console.Error.WriteLine($"pyralog silo: {failure}");
    }

    return ExitCodes.BadInput;
}
catch (Exception e) when (Find<StartupRefusedException>(e) is { } refused)
{
    Console.Error.WriteLine($"pyralog silo: {refused.Message}");
    return refused.ExitCode;
}
catch (Exception e) when (InUse(e) is { } inUse)
{
    // Another process bound a port between the start-up check and the listener's bind (two silos started at once).
    Console.Error.WriteLine($"pyralog silo: {inUse.ReplaceLineEndings(" ")} (taken after the start-up check); stop that process or choose another port.");
    return ExitCodes.BadInput;
}
catch (Exception e) when (Find<RedisException>(e) is { } redis)
{
    // Redis answered the start-up probe and failed afterwards.
    Console.Error.WriteLine($"pyralog silo: lost the cluster store (Redis): {redis.Message.ReplaceLineEndings(" ")}");
    return ExitCodes.ClusterUnreachable;
}

// Starts the host: true once started; false when it stopped while starting, on request (Ctrl+C, SIGTERM) or because the
// store failed or did not open. Host.StartAsync leaves started whatever started before a failure (the HTTP server, the silo's stages up
// to the failed one, the store among them), and RunAsync would not stop it either: it is stopped here before the
// failure is reported.
static async Task<bool> StartAsync(WebApplication host, SiloStore siloStore)
{
    try
    {
        await host.StartAsync();
        return true;
    }
    catch (Exception e)
    {
        try
        {
            await host.StopAsync();
        }
        catch (Exception)
        {
            // The host logged it; the operator reads why the start failed.
        }

        var stopRequested = host.Lifetime.ApplicationStopping.IsCancellationRequested
            && (Find<OperationCanceledException>(e) is not null || Find<OrleansLifecycleCanceledException>(e) is not null);
        if (siloStore.Failure is null && siloStore.OpenFailure is null && !stopRequested)
        {
            throw;
        }

        return false;
    }
}

// A listener's bind that found its port taken: the silo transport's message names the endpoint; Kestrel's is the
// IOException around it ("Failed to bind to address http://127.0.0.1:8080: address already in use.").
static string? InUse(Exception? e)
{
    for (Exception? outer = null; e is not null; outer = e, e = e.InnerException)
    {
        if (e is Microsoft.AspNetCore.Connections.AddressInUseException)
        {
            return outer is IOException ? outer.Message : e.Message;
        }
    }

    return null;
}

// Orleans wraps what a lifecycle participant throws (OrleansLifecycleCanceledException, AggregateException).
static T? Find<T>(Exception? e)
    where T : Exception
{
    for (; e is not null; e = e.InnerException)
    {
        if (e is T found)
        {
            return found;
        }

        if (e is AggregateException aggregate && aggregate.InnerExceptions.Select(Find<T>).FirstOrDefault(f => f is not null) is { } inner)
        {
            return inner;
        }
    }

    return null;
}
