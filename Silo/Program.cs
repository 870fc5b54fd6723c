using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Pyralog.Silo.Hosting;

// dotnet run --project Silo [--data-dir DIR] [--silo-port N] [--gateway-port N] [--membership localhost|development|redis] ...
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
