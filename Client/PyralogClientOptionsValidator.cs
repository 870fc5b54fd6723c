using Microsoft.Extensions.Options;

namespace Pyralog.Client;

/// <summary>Checks the data annotations of <see cref="PyralogClientOptions"/> (source-generated).</summary>
[OptionsValidator]
internal sealed partial class PyralogClientOptionsValidator : IValidateOptions<PyralogClientOptions>;
