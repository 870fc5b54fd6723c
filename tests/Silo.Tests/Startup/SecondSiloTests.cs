using System.Net;
using Pyralog.Silo.Startup;
using Pyralog.Testing;

namespace Pyralog.Silo.Tests.Startup;

/// <summary>A running silo keeps a second one off its data directory and off its ports.</summary>
[Trait("Category", "Slow")]
public sealed class SecondSiloTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("pyralog-second-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task A_second_silo_on_the_same_data_directory_or_ports_exits_2_naming_the_first()
    {
        var (siloPort, gatewayPort) = (TestPorts.Next(), TestPorts.Next());
        var first = Path.Combine(_root, "a");
        using var silo = await SiloProcess.StartAsync(first, siloPort, gatewayPort);
        var holder = $"pid {silo.Process.Id} (dotnet)";

        var sameData = await SiloProcess.RunToExitAsync(
            "--data-dir", first, "--silo-port", $"{TestPorts.Next()}", "--gateway-port", $"{TestPorts.Next()}");
        Assert.Equal(
            $"pyralog silo: data directory {first} is in use by {holder} (it holds {Path.Combine(first, "LOCK")}); give each silo its own --data-dir.\n",
            sameData.Err);
        Assert.Equal("", sameData.Out);
        Assert.Equal(2, sameData.Exit);

        var samePorts = await SiloProcess.RunToExitAsync(
            "--data-dir", Path.Combine(_root, "b"), "--silo-port", $"{siloPort}", "--gateway-port", $"{gatewayPort}");
        Assert.Equal(
            $"pyralog silo: silo port {siloPort} on 127.0.0.1 is already in use by {holder}; stop that process or choose another port with --silo-port.\n",
            samePorts.Err);
        Assert.Equal("", samePorts.Out);
        Assert.Equal(2, samePorts.Exit);

        // The check a silo runs after Orleans bound its listeners, in case two silos passed the port check together.
        var shared = Assert.Throws<StartupRefusedException>(
            () => ListenerSharingCheck.Check(new IPEndPoint(IPAddress.Loopback, gatewayPort), "gateway port", "--gateway-port"));
        Assert.Equal(
            $"gateway port {gatewayPort} on 127.0.0.1 is shared with {holder}; stop that process or choose another port with --gateway-port.",
            shared.Message);

        Assert.Equal(0, await silo.StopAsync());
    }
}
