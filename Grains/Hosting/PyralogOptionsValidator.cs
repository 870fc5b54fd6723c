using Microsoft.Extensions.Options;

namespace Pyralog.Grains.Hosting;

/// <summary>Checks the data annotations of <see cref="PyralogOptions"/> and its nested options (source-generated).</summary>
[OptionsValidator]
internal sealed partial class PyralogOptionsValidator : IValidateOptions<PyralogOptions>;
