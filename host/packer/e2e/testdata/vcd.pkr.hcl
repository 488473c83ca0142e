# A Cloud Director profile: its session must outlive the data source.
data "tokenkeeper" "vcd" {
  profile      = "vcd"
  min_validity = "10m"
}

local "vcd_auth" {
  expression = data.tokenkeeper.vcd.header_value
  sensitive  = true
}

source "null" "x" {
  communicator = "none"
}

build {
  sources = ["source.null.x"]
  provisioner "shell-local" {
    environment_vars = ["AUTH_VALUE=${local.vcd_auth}"]
    inline           = ["echo \"vcd token ${data.tokenkeeper.vcd.fingerprint}: $AUTH_VALUE\""]
  }
}
