"""What the Pulumi program (`__main__.py`) uses: the `PixVerseAccount` resource class, the
inventory read from stack config, and the session checks on each account's outputs."""
