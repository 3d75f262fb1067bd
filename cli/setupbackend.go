package cli

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"github.com/layerscope/layerscope/compute"
)

// runSetupBackend installs the CUDA or the XLA CPU PJRT plugin into ~/.local/lib/go-xla with go-xla's
// installer: the only command that downloads anything (runs never do: GOMLX_NO_AUTO_INSTALL stays set).
// Progress goes to stderr; the result, to stdout.
func runSetupBackend(env *Env, args []string) error {
	fs := flag.NewFlagSet("setup-backend", flag.ContinueOnError)
	force := fs.Bool("force", false, "install again over a plugin already there")
	timeout := fs.Duration("timeout", compute.DefaultSetupTimeout, "how long to wait for the download host to answer")
	which, err := parse(fs, args, "plugin (cuda or cpu)")
	if err != nil {
		return err
	}
	if which != compute.SetupCUDA && which != compute.SetupCPU {
		return errUsage{fmt.Sprintf("setup-backend: expected cuda or cpu, got %q", which)}
	}
	if *timeout <= 0 {
		return errUsage{fmt.Sprintf("setup-backend: --timeout %s: expected a positive duration such as 30s", *timeout)}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := compute.SetupBackend(ctx, which, compute.SetupOptions{Progress: env.Stderr, Timeout: *timeout, Force: *force})
	if err != nil {
		return fmt.Errorf("setup-backend: %v", err)
	}
	if res.Already {
		fmt.Fprintf(env.Stdout, "The %s is already installed: %s (--force installs it again)\n", res.What, res.Plugin)
	} else {
		fmt.Fprintf(env.Stdout, "Installed the %s: %s\n", res.What, res.Plugin)
	}
	if res.LoadErr != "" {
		fmt.Fprintf(env.Stderr, "note: it does not open on this machine: %s\n", res.LoadErr)
		return nil
	}
	use := "--backend gpu, and by default"
	if which == compute.SetupCPU {
		use = "--backend cpu, and by default when no GPU plugin loads"
	}
	fmt.Fprintf(env.Stdout, "It opens on %s. layerscope importance uses it with %s.\n", res.Device, use)
	return nil
}
