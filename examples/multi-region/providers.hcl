# Two regions (and, if you like, two accounts) in one config.
provider "aws" {
  region = "us-east-1"
}

provider "aws" {
  alias  = "eu"
  region = "eu-west-1"
  # profile = "network-eu"   # a named profile from ~/.aws/config for another account
}
