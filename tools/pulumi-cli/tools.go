//go:build tools

// Package tools pins the pulumi CLI (package cmd/pulumi of pkg/v3) in this module's go.mod and
// go.sum, so `make cli` builds it at exactly the version the Python SDK is pinned to.
package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
