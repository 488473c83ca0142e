# Integration metadata for the Packer integrations site (HashiCorp's
# integration-template format). Hand-written; `make packer-generate` rebuilds
# the README.md files beside it from docs/ and leaves this file alone.
integration {
  name        = "tokenkeeper"
  description = "Valid bearer tokens for VMware APIs (VCF SDDC Manager, VMware Cloud Director) from the tokenkeeper credential helper, without a password in the template."
  identifier  = "packer/tokenkeeper/tokenkeeper"
  flags       = []
  docs {
    process_docs    = true
    readme_location = "./README.md"
    external_url    = "https://github.com/tokenkeeper/tokenkeeper/tree/main/host/packer"
  }
  license {
    type = "Apache-2.0"
    url  = "https://github.com/tokenkeeper/tokenkeeper/blob/main/LICENSE"
  }
  component {
    type = "data-source"
    name = "tokenkeeper"
    slug = "tokenkeeper"
  }
}
