# Dublin, through the aliased provider.
virtual_interface "dxvif-euw1a001" {
  provider = aws.eu

  bgp_peer "v4" {
    address_family   = "ipv4"
    asn              = 65020
    amazon_address   = "169.254.20.1/30"
    customer_address = "169.254.20.2/30"
  }

  bgp_peer "v6" {
    address_family = "ipv6"
    asn            = var.peer_asn
    auth_key       = var.eu_auth_key
  }
}
