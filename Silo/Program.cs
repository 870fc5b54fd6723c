using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Pyralog.Silo.Hosting;

// dotnet run --project Silo [--data-dir DIR] [--silo-port N] [--gateway-port N] [--membership localhost|development|redis] ...
if (args is ["--help"] or ["-h"])
{
    Console.WriteLine("Pyralog silo. Settings come from appsettings.json, environment variables (PYRALOG_Section__Key)");
    Console.WriteLine("and these switches:");
    foreach (var (name, key) in PyralogSiloHost.Switches)
    {
        Console.WriteLine($"  {name,-16} {key}");
    }

    return 0;
}

try
{
    var host = PyralogSiloHost.CreateBuilder(args).Build();
    await host.RunAsync();
    return 0;
}
catch (OptionsValidationException e)
{
    foreach (var failure in e.Failures)
    {
        Console.Error.WriteLine($"pyralog silo: {failure}");
    }

    return 2;
}
