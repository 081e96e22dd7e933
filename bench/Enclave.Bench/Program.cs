// enclave-bench: the benchmarks, run as `bash scripts/bench.sh broker | verify | secagg | fl [OPTIONS]`. Each prints
// its measurement beside a yardstick timed in the same run (ratios, not absolute numbers, since the machines are
// shared and noisy); `--json` prints one JSON object on standard output.
using System.CommandLine;
using Enclave.Bench;

var root = new RootCommand("Benchmarks of the confidential federated-training components, each against its raw primitives in one run.");
root.Subcommands.Add(BrokerBench.Create());
root.Subcommands.Add(VerifyBench.Create());
root.Subcommands.Add(SecAggBench.Create());
root.Subcommands.Add(FlBench.Create());
return await root.Parse(args).InvokeAsync().ConfigureAwait(false);
