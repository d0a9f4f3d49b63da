# The Direct Connect account and region. In CI, credentials come from the OIDC role that the workflow
# (../dxctl.yml) assumes; nothing here names a key.
provider "aws" {
  region = "us-east-1"
}
