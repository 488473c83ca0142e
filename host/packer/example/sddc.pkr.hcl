# An example build that calls the SDDC Manager API with a token from
# tokenkeeper, in the two ways this plugin supports. The end-to-end test
# (host/packer/e2e) runs this very file against tokenkeeper-sim.
#
#   packer init sddc.pkr.hcl   # or: packer plugins install --path …
#   packer build -var sddc_url=https://sddc-manager.lab.local -var ca_file=/etc/ssl/sddc-ca.pem sddc.pkr.hcl

packer {
  required_plugins {
    tokenkeeper = {
      source  = "github.com/tokenkeeper/tokenkeeper"
      version = ">= 0.1.0"
    }
  }
}

variable "sddc_url" {
  type        = string
  description = "Base URL of SDDC Manager, e.g. https://sddc-manager.lab.local"
}

variable "ca_file" {
  type        = string
  description = "CA bundle that verifies SDDC Manager's certificate"
}

variable "tokenkeeper_config" {
  type        = string
  default     = ""
  description = "tokenkeeper profiles file; empty: ask the running agent, else use tokenkeeper's default file"
}

variable "tokenkeeper" {
  type        = string
  default     = "tokenkeeper"
  description = "the tokenkeeper binary (a name on PATH or a path)"
}

# Packer evaluates data sources once, before the build starts: the token must
# stay valid for the whole build, so ask for enough validity up front.
data "tokenkeeper" "sddc" {
  profile      = "sddc"
  min_validity = "45m"
  config       = var.tokenkeeper_config
  helper_path  = var.tokenkeeper
}

# Data source outputs cannot be marked sensitive by a plugin. Binding the
# header to a sensitive local makes Packer replace it with <sensitive> in
# everything it prints (UI and logs).
local "sddc_auth" {
  expression = data.tokenkeeper.sddc.header_value
  sensitive  = true
}

source "null" "sddc" {
  communicator = "none"
}

build {
  sources = ["source.null.sddc"]

  # 1. The token from the data source, for steps that run early in the build.
  #    An env map, not environment_vars: `packer validate` (which does not
  #    run data sources) cannot check "KEY=${data…}" strings whose value is
  #    unknown until the build.
  provisioner "shell-local" {
    env = {
      SDDC_URL          = var.sddc_url
      CA_FILE           = var.ca_file
      AUTH_NAME         = data.tokenkeeper.sddc.header_name
      AUTH_VALUE        = local.sddc_auth
      TOKEN_EXPIRES_AT  = data.tokenkeeper.sddc.expires_at
      TOKEN_FINGERPRINT = data.tokenkeeper.sddc.fingerprint
    }
    inline = [
      "echo \"using token $TOKEN_FINGERPRINT, valid until $TOKEN_EXPIRES_AT, header $AUTH_NAME: $AUTH_VALUE\"",
      "curl -fsS --cacert \"$CA_FILE\" -H \"$AUTH_NAME: $AUTH_VALUE\" -o /dev/null -w 'data source token: GET /v1/domains -> HTTP %%{http_code}\\n' \"$SDDC_URL/v1/domains\"",
    ]
  }

  # 2. A fresh token at the moment of use, for steps that run hours into a
  #    long build: the provisioner asks tokenkeeper itself. The header goes
  #    through a pipe (printf is a shell builtin), never through argv or
  #    Packer's output; `&&` fails closed: no request without a token.
  provisioner "shell-local" {
    env = {
      SDDC_URL    = var.sddc_url
      CA_FILE     = var.ca_file
      TOKENKEEPER = var.tokenkeeper
      TK_CONFIG   = var.tokenkeeper_config
    }
    inline = [
      "set -e",
      "h=$(\"$TOKENKEEPER\" get $${TK_CONFIG:+--config \"$TK_CONFIG\"} --profile sddc --min-validity 5m --format header) && printf '%s\\n' \"$h\" | curl -fsS --cacert \"$CA_FILE\" -H @- -o /dev/null -w 'fresh token: GET /v1/domains -> HTTP %%{http_code}\\n' \"$SDDC_URL/v1/domains\"",
    ]
  }
}
