using Pyralog.Client.Logs;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Client.Tests.Logs;

public sealed class OptionsTests
{
    [Fact]
    public void The_defaults_are_valid()
    {
        new ProducerOptions().Validate();
        new ConsumerOptions().Validate();
    }

    [Fact]
    public void Producer_options_name_what_is_wrong()
    {
        Assert.Equal("Linger", Wrong(new ProducerOptions { Linger = TimeSpan.FromMilliseconds(-1) }));
        Assert.Equal("Linger", Wrong(new ProducerOptions { Linger = TimeSpan.FromMinutes(2) }));
        Assert.Equal("MaxBatchBytes", Wrong(new ProducerOptions { MaxBatchBytes = 0 }));
        Assert.Equal("MaxBatchBytes", Wrong(new ProducerOptions { MaxBatchBytes = LogSettings.MaxBatchBytes + 1 }));
        new ProducerOptions { MaxBatchBytes = LogSettings.MaxBatchBytes, MaxBufferedBytes = LogSettings.MaxBatchBytes }.Validate();
        Assert.Equal("MaxInFlight", Wrong(new ProducerOptions { MaxInFlight = 0 }));
        Assert.Equal("MaxInFlight", Wrong(new ProducerOptions { MaxInFlight = 6 }));
        Assert.Equal("MaxBufferedBytes", Wrong(new ProducerOptions { MaxBufferedBytes = LogSettings.LargeObjectSafeBatchBytes - 1 }));
        Assert.Equal("RequestTimeout", Wrong(new ProducerOptions { RequestTimeout = TimeSpan.Zero }));
        Assert.Equal("LeaderCheckAfter", Wrong(new ProducerOptions { LeaderCheckAfter = TimeSpan.Zero }));
        Assert.Equal("LeaderCheckAfter", Wrong(new ProducerOptions { LeaderCheckAfter = TimeSpan.FromMinutes(6) }));
        new ProducerOptions { RequestTimeout = TimeSpan.FromMilliseconds(250) }.Validate(); // a check after the request timeout: off, not wrong
        Assert.Equal("DeliveryTimeout", Wrong(new ProducerOptions { DeliveryTimeout = TimeSpan.FromSeconds(5) }));
        Assert.Contains("was 7", Assert.Throws<ArgumentException>(() => new ProducerOptions { MaxInFlight = 7 }.Validate()).Message);
    }

    [Fact]
    public void Consumer_options_name_what_is_wrong()
    {
        Assert.Equal("MaxBytes", Wrong(new ConsumerOptions { MaxBytes = 0 }));
        Assert.Equal("MaxBytes", Wrong(new ConsumerOptions { MaxBytes = LogSettings.MaxReadBytes + 1 }));
        new ConsumerOptions { MaxBytes = LogSettings.MaxReadBytes }.Validate();
        Assert.Equal("MaxWait", Wrong(new ConsumerOptions { MaxWait = TimeSpan.FromSeconds(21) }));
        Assert.Equal("MaxWait", Wrong(new ConsumerOptions { MaxWait = TimeSpan.FromSeconds(-1) }));
        Assert.Equal("RequestTimeout", Wrong(new ConsumerOptions { RequestTimeout = TimeSpan.Zero }));
        Assert.Equal("HedgeAfter", Wrong(new ConsumerOptions { HedgeAfter = TimeSpan.Zero }));
        Assert.Equal("HedgeAfter", Wrong(new ConsumerOptions { HedgeAfter = TimeSpan.FromMinutes(6) }));
        new ConsumerOptions { HedgeAfter = TimeSpan.FromMinutes(5) }.Validate(); // not shorter than RequestTimeout: no hedge
    }

    [Fact]
    public void A_producer_or_consumer_refuses_wrong_options_when_created()
    {
        var grains = new FakeGrains();
        Assert.Equal("MaxInFlight", Assert.Throws<ArgumentException>(() => new LogProducer(grains, new ProducerOptions { MaxInFlight = 9 })).ParamName);
        Assert.Equal("MaxWait", Assert.Throws<ArgumentException>(() => new LogConsumer(grains, new ConsumerOptions { MaxWait = TimeSpan.FromMinutes(1) })).ParamName);
    }

    private static string? Wrong(ProducerOptions options) => Assert.Throws<ArgumentException>(options.Validate).ParamName;

    private static string? Wrong(ConsumerOptions options) => Assert.Throws<ArgumentException>(options.Validate).ParamName;
}
