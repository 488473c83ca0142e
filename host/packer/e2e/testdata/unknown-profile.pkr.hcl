# A data source naming a profile the tokenkeeper profiles file lacks.
data "tokenkeeper" "missing" {
  profile = "nope"
}

source "null" "x" {
  communicator = "none"
}

build {
  sources = ["source.null.x"]
  provisioner "shell-local" {
    inline = ["echo expires ${data.tokenkeeper.missing.expires_at}"]
  }
}
