"""What the provider host loads: `PixVerseAccountProvider` and everything it needs at run time.

The engine starts the provider host in the project directory (`python -m
provider.host.dynamic_host`: the SDK's `python -m pulumi.dynamic` with a wider thread pool,
through the plugin folder `Pulumi.yaml` declares); it unpickles
`provider.PixVerseAccountProvider` from each resource's `__provider` and calls check, diff,
create, update, read and delete on it. Nothing here imports the program's modules or the
command-line tools, so the host loads no YAML editor and no command.
"""
