using Microsoft.Extensions.Options;

namespace Pyralog.Client.Logs;

/// <summary>Checks the data annotations of <see cref="ProducerOptions"/> (source-generated).</summary>
[OptionsValidator]
internal sealed partial class ProducerOptionsValidator : IValidateOptions<ProducerOptions>;
