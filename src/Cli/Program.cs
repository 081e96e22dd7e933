// The `enclave` command: one verb per user of the product (the tree is in CliRoot).
return await Enclave.Cli.CliRoot.Create().Parse(args).InvokeAsync();
