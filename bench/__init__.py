"""Benchmark of fleet-sized operations through the SDK's provider host (`make bench`)."""
