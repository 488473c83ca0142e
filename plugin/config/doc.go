// Package config reads the tokenkeeper profiles file: strict YAML whose
// every problem is reported with its file, line, profile and field, and in
// which secrets are never literals but references resolved at use.
//
// The file is found by paths.ConfigFile ($TOKENKEEPER_CONFIG, else
// $XDG_CONFIG_HOME/tokenkeeper/config.yaml, else
// ~/.config/tokenkeeper/config.yaml) unless --config names it:
//
//	agent:
//	  idle_timeout: 15m                 # the agent exits after this long unused
//	profiles:
//	  sddc:
//	    provider: vcf                   # SDDC Manager
//	    url: https://sddc-manager.lab.local
//	    ca_file: /etc/ssl/sddc-ca.pem   # else the system roots; insecure_skip_verify: true must be explicit
//	    username: svc-automation@vsphere.local
//	    password: {env: VCF_PASSWORD}   # or {file: /run/secrets/vcf}, or {command: [pass, show, vcf/svc]}
//	    refresh_before: 15m             # optional
//	  vcd-tenant:
//	    provider: vcd                   # Cloud Director
//	    url: https://vcd.example.com
//	    org: ExampleOrg                 # "System" selects the provider login
//	    username: svc-automation
//	    password: {command: [pass, show, vcd/svc], timeout: 5s}
//	    api_version: "37.0"             # optional; quote it
//	  vcd-sa:
//	    provider: vcd
//	    url: https://vcd.example.com
//	    org: ExampleOrg
//	    service_account: {file: ~/.config/tokenkeeper/vcd-sa.token}  # rewritten on every rotation
//	  vcenter:
//	    provider: vcenter               # vSphere Automation API
//	    url: https://vcenter.example.com
//	    username: svc-automation@vsphere.local
//	    password: {env: VC_PASSWORD}
//	    idle_timeout: 30m               # the server's session idle timeout; 30m is vCenter's default
//
// Strictness: an unknown key, a wrong type, a bad duration or URL, a
// missing field or a key that the provider does not use is an *Error; Parse
// and Load return all of them, joined, sorted by line. A secret written as
// a literal is refused without echoing it. Relative paths (file
// references, ca_file, a command's program when it contains a slash) are
// relative to the file's directory, and "~/" is the home directory.
//
// Permissions: the file decides which programs run, where credentials
// are sent and which CA is trusted, so Load refuses it, as ssh's
// StrictModes, when anyone but the current user or root could change it:
// the file writable by group or others (`chmod go-w FILE`) or owned by
// another user, or a directory from the file's up to / owned by another
// user or writable by group or others without the sticky bit (such a
// directory lets them replace the file). The same owner and write rules
// apply to ca_file and to a command's program given by path (checked when
// it runs); secret files must in addition not be readable by group or
// others (`chmod 600 FILE`). These errors wrap
// secret.ErrInsecurePermissions.
//
// Warnings: Config.Warnings lists what is allowed but unsafe
// (insecure_skip_verify) or suspicious (an environment variable name that
// is not upper case, which messages never show since it may be a
// misplaced password). Errors and warnings never echo a value that could
// be a secret: literals, environment variable names that are not valid,
// bad durations and unknown providers are located, not quoted.
package config
