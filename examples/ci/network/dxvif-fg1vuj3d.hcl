# Ashburn: the private VIF from the seed example.
virtual_interface "dxvif-fg1vuj3d" {
  # Already exists; the first apply adopts it.
  bgp_peer "v4" {
    address_family   = "ipv4"
    asn              = 65000
    amazon_address   = "169.254.255.1/30"
    customer_address = "169.254.255.2/30"
  }

  # New: AWS assigns the IPv6 /125 addresses; the key comes from a repository secret.
  bgp_peer "v6" {
    address_family = "ipv6"
    asn            = 64600
    auth_key       = var.auth_key_dxvif_fg1vuj3d_v6
  }
}
