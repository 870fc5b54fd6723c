using Microsoft.Extensions.Options;

namespace Pyralog.Client.Logs;

/// <summary>
/// The rules of <see cref="ProducerOptions"/> across settings: the buffer holds at least one batch, and a record's
/// delivery may take at least one linger and one request. <c>name</c> is the path failures are named under.
/// </summary>
internal sealed class ProducerOptionsRules : IValidateOptions<ProducerOptions>
{
    public ValidateOptionsResult Validate(string? name, ProducerOptions options)
    {
        var builder = new ValidateOptionsResultBuilder();
        if (options.MaxBufferedBytes < options.MaxBatchBytes)
        {
            builder.AddError($"{name}.MaxBufferedBytes must be at least MaxBatchBytes ({options.MaxBatchBytes}) (was {options.MaxBufferedBytes}).");
        }

        if (options.DeliveryTimeout < options.RequestTimeout + options.Linger)
        {
            builder.AddError($"{name}.DeliveryTimeout must be at least RequestTimeout + Linger ({options.RequestTimeout + options.Linger}) (was {options.DeliveryTimeout}).");
        }

        return builder.Build();
    }
}
