package config_test

import (
	"fmt"

	"github.com/tokenkeeper/tokenkeeper/plugin/config"
)

func ExampleParse() {
	cfg, err := config.Parse([]byte(`
profiles:
  sddc:
    provider: vcf
    url: https://sddc-manager.lab.local
    username: svc-automation@vsphere.local
    password: {env: VCF_PASSWORD}
  vcd-tenant:
    provider: vcd
    url: https://vcd.example.com
    org: ExampleOrg
    api_token: {command: [pass, show, vcd/token], timeout: 5s}
`), "config.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, name := range cfg.Names() {
		p, _ := cfg.Profile(name)
		fmt.Println(name, p.Provider, p.URL, p.Timeout)
	}
	fmt.Println(cfg.Profiles["sddc"].Password, cfg.Profiles["vcd-tenant"].APIToken)
	// Output:
	// sddc vcf https://sddc-manager.lab.local 30s
	// vcd-tenant vcd https://vcd.example.com 30s
	// env VCF_PASSWORD command pass
}

func ExampleParse_errors() {
	_, err := config.Parse([]byte(`
profiles:
  sddc:
    provider: vcf
    url: http://sddc-manager.lab.local
    username: admin
    password: not-a-reference
`), "config.yaml")
	fmt.Println(err)
	// Output:
	// config.yaml:5:5: profile "sddc": field "url": http is allowed only for 127.0.0.1, ::1 and localhost (a local simulator or tunnel); use https
	// config.yaml:7:15: profile "sddc": field "password": a secret must be a reference, not a literal value (not shown here); write {env: NAME}, {file: PATH}, {command: [prog, arg…]} or {vault: {path: PATH, field: KEY}}. If the literal is a real secret, remove it from this file
}
