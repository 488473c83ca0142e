package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tokenkeeper/tokenkeeper/host/exec"
	"github.com/tokenkeeper/tokenkeeper/plugin/config"
)

// initFlags are what `config init` writes into the starter file.
type initFlags struct {
	profile, provider, url, caFile, username, org string
	passwordEnv, passwordFile                     string
}

func (a *app) configInitCommand() *cobra.Command {
	var f initFlags
	cmd := &cobra.Command{
		Use:   "init --provider vcf|vcd|vcenter --url URL --username USER (--password-env VAR | --password-file PATH)",
		Short: "Write a commented starter profiles file",
		Long: `init writes a profiles file with one profile, explained line by line, to
--config FILE, else $TOKENKEEPER_CONFIG, else the XDG location. The file is
created with mode 0600 (its directories 0700) and never overwritten. The
password is a reference, never a value: an environment variable
(--password-env) or a file of its own (--password-file). Then run
'tokenkeeper config check --online' to log in once.`,
		Example: `  tokenkeeper config init --profile sddc --provider vcf --url https://sddc.example.com \
      --username administrator@vsphere.local --password-env VCF_PASSWORD
  tokenkeeper config init --profile vcd --provider vcd --url https://vcd.example.com \
      --org ExampleOrg --username alice --password-file ~/.config/tokenkeeper/vcd.pw`,
		Args: noArgs,
		RunE: func(*cobra.Command, []string) error { return a.configInit(f) },
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.profile, "profile", "p", "default", "name of the profile")
	fl.StringVar(&f.provider, "provider", "", "vcf (SDDC Manager), vcd (Cloud Director) or vcenter (vCenter)")
	fl.StringVar(&f.url, "url", "", "the upstream, e.g. https://sddc-manager.example.com")
	fl.StringVar(&f.caFile, "ca-file", "", "PEM bundle of the CA that signed the upstream's certificate")
	fl.StringVar(&f.username, "username", "", "the account to log in as")
	fl.StringVar(&f.org, "org", "", `vcd: the organization, or "System" for the provider`)
	fl.StringVar(&f.passwordEnv, "password-env", "", "read the password from this environment variable")
	fl.StringVar(&f.passwordFile, "password-file", "", "read the password from this file (mode 0600)")
	return cmd
}

// configInit checks the flags, renders the file and creates it.
func (a *app) configInit(f initFlags) error {
	if err := f.check(); err != nil {
		return err
	}
	path, err := a.resolveConfigPath()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("could not create the directory of %s: %w", path, err)
	}
	if err := writeNew(path, []byte(f.render())); err != nil {
		return err
	}
	fmt.Fprintf(a.env.Stderr, "tokenkeeper: wrote %s; next: tokenkeeper config check --online --config %s\n", path, path)
	return nil
}

// writeNew creates path with data, mode 0600, if the result loads as a
// profiles file; it never replaces an existing file. The data is written
// to a temporary file beside path, loaded, and linked into place, which
// fails when path exists.
func writeNew(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".config-init-*.yaml")
	if err != nil {
		return fmt.Errorf("could not create %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(data)
	if err = errors.Join(err, tmp.Sync(), tmp.Close()); err != nil {
		return fmt.Errorf("could not write %s: %w", path, err)
	}
	if _, err := config.Load(tmp.Name()); err != nil {
		msg := strings.ReplaceAll(err.Error(), tmp.Name(), path)
		return exec.Errorf(exec.CodeInvalidArgument, "config init: the file would not load, nothing written: %s", msg)
	}
	if err := os.Link(tmp.Name(), path); errors.Is(err, os.ErrExist) {
		return exec.Errorf(exec.CodeInvalidArgument, "%s exists: config init never overwrites; edit it, or pass --config NEW.yaml", path)
	} else if err != nil {
		return fmt.Errorf("could not create %s: %w", path, err)
	}
	return nil
}

func (f initFlags) check() error {
	var missing []string
	for _, m := range []struct{ flag, v string }{{"--provider", f.provider}, {"--url", f.url}, {"--username", f.username}} {
		if m.v == "" {
			missing = append(missing, m.flag)
		}
	}
	if len(missing) > 0 {
		return usageError("config init needs %s", strings.Join(missing, ", "))
	}
	switch {
	case f.provider != "vcf" && f.provider != "vcd" && f.provider != "vcenter":
		return usageError("--provider must be vcf, vcd or vcenter, got %q", f.provider)
	case f.provider != "vcd" && f.org != "":
		return usageError("--org applies to --provider vcd only")
	case f.provider == "vcd" && f.org == "":
		return usageError(`--org is required with --provider vcd (the organization, or "System")`)
	case (f.passwordEnv == "") == (f.passwordFile == ""):
		return usageError("give exactly one of --password-env VAR and --password-file PATH")
	case !strings.HasPrefix(f.url, "https://"):
		return usageError("--url must start with https://, got %q", f.url)
	}
	return nil
}

// render is the starter file: every value quoted for YAML, every line
// explained.
func (f initFlags) render() string {
	var b strings.Builder
	b.WriteString("# tokenkeeper profiles file, written by `tokenkeeper config init`.\n")
	b.WriteString("# Check it with `tokenkeeper config check --online`; every key is in the tokenkeeper repository's docs/configuration.md.\n")
	b.WriteString("# It holds no secret: the password is read from where `password` points.\n")
	b.WriteString("profiles:\n")
	fmt.Fprintf(&b, "  %s: # the name to pass as --profile (or set $TOKENKEEPER_PROFILE)\n", quote(f.profile))
	fmt.Fprintf(&b, "    provider: %s # vcf: SDDC Manager, vcd: Cloud Director, vcenter: vCenter\n", f.provider)
	fmt.Fprintf(&b, "    url: %s\n", quote(f.url))
	if f.caFile != "" {
		fmt.Fprintf(&b, "    ca_file: %s # the CA that signed the upstream's certificate\n", quote(f.caFile))
	} else {
		b.WriteString("    # ca_file: /path/to/ca.pem # when the upstream's CA is not in the system roots\n")
	}
	if f.org != "" {
		fmt.Fprintf(&b, "    org: %s # the organization to log in to\n", quote(f.org))
	}
	fmt.Fprintf(&b, "    username: %s\n", quote(f.username))
	if f.passwordEnv != "" {
		fmt.Fprintf(&b, "    password: {env: %s} # the agent reads it from the environment it starts in\n", quote(f.passwordEnv))
	} else {
		fmt.Fprintf(&b, "    password: {file: %s} # a file of its own, mode 0600\n", quote(f.passwordFile))
	}
	b.WriteString("    # timeout: 30s # of one upstream request\n")
	return b.String()
}

// quote writes s as a YAML double-quoted scalar (JSON string syntax is a
// subset), so no value can break out of its line.
func quote(s string) string { return strconv.Quote(s) }
