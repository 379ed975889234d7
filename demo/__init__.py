"""The demo stack on the bundled useapi.net emulator: `make up | preview | refresh | destroy |
drift` (`python -m demo <operation>`), through the real `pulumi` CLI. A local stand-in for the
outside world, like the emulator: nothing under `provider/` imports it."""
