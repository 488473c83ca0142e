# A data source without its required profile.
data "tokenkeeper" "sddc" {
  min_validity = "10m"
}

source "null" "x" {
  communicator = "none"
}

build {
  sources = ["source.null.x"]
  provisioner "shell-local" {
    inline = ["echo expires ${data.tokenkeeper.sddc.expires_at}"]
  }
}
