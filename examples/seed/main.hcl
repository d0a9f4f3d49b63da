# The seed scenario from the AWS CLI reference for create-bgp-peer:
# private VIF dxvif-fg1vuj3d already has an IPv4 peer; add an IPv6 peer.

provider "aws" {
  region = "us-east-1"
}

virtual_interface "dxvif-fg1vuj3d" {
  # Already exists; declared so dxctl knows it is wanted.
  bgp_peer "v4" {
    address_family   = "ipv4"
    asn              = 65000
    amazon_address   = "169.254.255.1/30"
    customer_address = "169.254.255.2/30"
  }

  # AWS assigns the IPv6 /125 addresses and, since auth_key is omitted, the BGP auth key.
  bgp_peer "v6" {
    address_family = "ipv6"
    asn            = 64600
  }
}
