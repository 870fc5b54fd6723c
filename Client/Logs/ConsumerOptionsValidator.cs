using Microsoft.Extensions.Options;

namespace Pyralog.Client.Logs;

/// <summary>Checks the data annotations of <see cref="ConsumerOptions"/> (source-generated).</summary>
[OptionsValidator]
internal sealed partial class ConsumerOptionsValidator : IValidateOptions<ConsumerOptions>;
