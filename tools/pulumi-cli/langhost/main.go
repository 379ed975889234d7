// Command pulumi-language-python is this project's build of the Python language host for the
// pulumi CLI that `make cli` builds.
//
// Why it exists: Pulumi publishes its own Python language host as the Go module
// github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3, but the module proxy this
// project builds from refuses that module at every version (403 "This module version is not
// available"), while it serves pkg/v3 and sdk/v3. A language host has one job for `pulumi
// preview/up/refresh/destroy`: start the program with the SDK's own exec shim
// (sdk/v3/python/cmd/pulumi-language-python-exec, which `make cli` copies beside this binary)
// and hand it the monitor address, the stack, and the configuration. This host does that, using
// the same sdk/v3 packages the real host uses (toolchain for the virtualenv, rpcutil for the
// gRPC server and the engine health check), and the same command line and environment.
//
// What it leaves out, on purpose: code generation, `pulumi new` templates, `pulumi about`
// details, policy packs, plugins written in Python, debugger attach, typecheckers, and the
// plugin discovery of installed Pulumi packages (this project's program depends on no
// packaged provider: its one provider is the dynamic one, which the engine finds as the
// resource plugin pulumi-resource-pulumi-python). Those RPCs answer Unimplemented.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/cmdutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/pulumi/pulumi/sdk/v3/python/toolchain"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

const (
	// The SDK's exec shim, installed next to this binary (as the real host expects it).
	execShim = "pulumi-language-python-exec"
	// The shim exits with 32 after it has shown the user an actionable message.
	exitAfterUserMessage = 32
	// Environment variables the shim reads its configuration from.
	configVar           = "PULUMI_CONFIG"
	configSecretKeysVar = "PULUMI_CONFIG_SECRET_KEYS"
)

func main() {
	showVersion := flag.Bool("version", false, "print the plugin version and exit")
	tracing := flag.String("tracing", "", "accepted for compatibility; tracing is not emitted")
	flag.Parse()
	_ = tracing

	if *showVersion {
		fmt.Println(version.Version)
		return
	}

	self, err := os.Executable()
	if err != nil {
		cmdutil.Exit(fmt.Errorf("could not determine current executable: %w", err))
	}
	shim := filepath.Join(filepath.Dir(self), execShim)
	if _, err := os.Stat(shim); err != nil {
		cmdutil.Exit(fmt.Errorf("missing executor %s: %w (run `make cli`)", shim, err))
	}

	var engineAddress string
	if args := flag.Args(); len(args) > 0 {
		engineAddress = args[0]
	}

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()
	cancelChannel := make(chan bool)
	go func() {
		<-ctx.Done()
		close(cancelChannel)
	}()

	// Exit when the engine goes away, so a killed CLI never leaves this process behind.
	if engineAddress != "" {
		if err := rpcutil.Healthcheck(ctx, engineAddress, 5*time.Minute, cancel); err != nil {
			cmdutil.Exit(fmt.Errorf("could not start health check: %w", err))
		}
	}

	host := newLanguageHost(shim, engineAddress)
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: cancelChannel,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, host)
			return nil
		},
	})
	if err != nil {
		cmdutil.Exit(fmt.Errorf("could not start language host RPC server: %w", err))
	}
	// The spawner reads the port from the first line of stdout.
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		cmdutil.Exit(fmt.Errorf("language host RPC stopped serving: %w", err))
	}
}

type languageHost struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	exec          string
	engineAddress string
	// Cancelled by the Cancel RPC, which the engine sends before it shuts the host down; it
	// stops a running program, as in Pulumi's own host.
	cancelCtx  context.Context
	cancelFunc context.CancelFunc
}

func newLanguageHost(exec, engineAddress string) *languageHost {
	ctx, cancel := context.WithCancel(context.Background())
	return &languageHost{exec: exec, engineAddress: engineAddress, cancelCtx: ctx, cancelFunc: cancel}
}

// Cancel stops a running program (SIGINT, then a kill after the Run's wait delay), as Pulumi's
// own host does; answering it also tells the engine that this host acknowledged the shutdown.
func (h *languageHost) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	h.cancelFunc()
	return &emptypb.Empty{}, nil
}

func (h *languageHost) Handshake(
	ctx context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	h.engineAddress = req.GetEngineAddress()
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *languageHost) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version.Version}, nil
}

// GetRequiredPackages answers "none": the program uses only the SDK and its dynamic provider,
// whose resource plugin (pulumi-resource-pulumi-python) the engine finds on its own.
func (h *languageHost) GetRequiredPackages(
	context.Context, *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	return &pulumirpc.GetRequiredPackagesResponse{}, nil
}

func (h *languageHost) GetRequiredPlugins(
	context.Context, *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return &pulumirpc.GetRequiredPluginsResponse{}, nil
}

// options reads Pulumi.yaml's runtime options the way the real host does for programs.
func options(info *pulumirpc.ProgramInfo) (toolchain.PythonOptions, error) {
	opts := toolchain.PythonOptions{Root: info.GetRootDirectory(), ProgramDir: info.GetProgramDirectory()}
	raw := info.GetOptions().AsMap()
	if v, ok := raw["virtualenv"]; ok {
		s, ok := v.(string)
		if !ok {
			return opts, errors.New("virtualenv option must be a string")
		}
		opts.Virtualenv = s
	}
	if v, ok := raw["toolchain"]; ok {
		switch v {
		case "pip":
			opts.Toolchain = toolchain.Pip
		default:
			return opts, fmt.Errorf("unsupported toolchain option %v: this host runs pip virtualenvs only", v)
		}
	}
	return opts, nil
}

// arguments is the exec shim's command line, flag for flag as the real host builds it.
func (h *languageHost) arguments(req *pulumirpc.RunRequest) []string {
	args := []string{h.exec}
	add := func(k, v string) {
		if v != "" {
			args = append(args, "--"+k, v)
		}
	}
	add("monitor", req.GetMonitorAddress())
	add("engine", h.engineAddress)
	add("project", req.GetProject())
	add("root_directory", req.GetInfo().GetRootDirectory())
	add("stack", req.GetStack())
	add("pwd", req.GetPwd())
	add("dry_run", strconv.FormatBool(req.GetDryRun()))
	add("parallel", strconv.Itoa(int(req.GetParallel())))
	add("organization", req.GetOrganization())
	args = append(args, req.GetInfo().GetEntryPoint())
	return append(args, req.GetArgs()...)
}

func (h *languageHost) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	if h.engineAddress == "" {
		return nil, errors.New("the engine address is unknown: call Handshake before Run")
	}
	opts, err := options(req.GetInfo())
	if err != nil {
		return nil, err
	}
	tc, err := toolchain.ResolveToolchain(opts)
	if err != nil {
		return nil, err
	}
	if err := tc.ValidateVenv(ctx); err != nil {
		return nil, err
	}
	config, err := json.Marshal(req.GetConfig())
	if err != nil {
		return nil, fmt.Errorf("failed to serialize configuration: %w", err)
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	secretKeysJSON, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, fmt.Errorf("failed to serialize configuration secret keys: %w", err)
	}

	// The program stops when the Cancel RPC comes or the engine abandons this Run, whichever
	// is first; as in Pulumi's host: SIGINT first (a kill when that cannot be sent), and a
	// kill once the program has had five seconds to exit. After a failed step that wait is
	// often used up: the SDK's exec shim, interrupted, joins executor threads still blocked in
	// RegisterResource calls the cancelled engine never answers, and the engine itself kills
	// this host's process group five seconds after its own SIGINT. Pulumi's host does the same.
	runCtx, stopRun := context.WithCancel(h.cancelCtx)
	defer stopRun()
	context.AfterFunc(ctx, stopRun)
	cmd, err := tc.Command(runCtx, h.arguments(req)...)
	if err != nil {
		return nil, err
	}
	cmd.Cancel = func() error {
		if err := cmd.Process.Signal(os.Interrupt); err != nil {
			return cmd.Process.Kill()
		}
		return nil
	}
	cmd.WaitDelay = 5 * time.Second
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	if req.GetConfig() != nil {
		env = append(env, configVar+"="+string(config))
	}
	cmd.Env = append(env, configSecretKeysVar+"="+string(secretKeysJSON))

	if err := cmd.Run(); err != nil {
		_ = os.Stdout.Sync()
		_ = os.Stderr.Sync()
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) {
			return &pulumirpc.RunResponse{
				Error: fmt.Sprintf("problem executing program (could not run language executor): %v", err),
			}, nil
		}
		if status, ok := exitErr.Sys().(syscall.WaitStatus); ok && status.ExitStatus() == exitAfterUserMessage {
			return &pulumirpc.RunResponse{Bail: true}, nil
		}
		return &pulumirpc.RunResponse{
			Error: fmt.Sprintf("program exited with non-zero exit code: %d", exitErr.ExitCode()),
		}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}
