"""The logic of the commands people and pipelines run (`python -m provider.adopt`, `drift`,
`report`): the stack file as a document, the live fleet, the stack's outputs, and what each
command makes of them. Nothing here is loaded by the provider host or the program."""
