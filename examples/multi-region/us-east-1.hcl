# Ashburn: a private VIF on a connection with logical redundancy,
# so it may carry two IPv4 peers.
virtual_interface "dxvif-use1a001" {
  bgp_peer "primary_v4" {
    address_family   = "ipv4"
    asn              = 65010
    amazon_address   = "169.254.10.1/30"
    customer_address = "169.254.10.2/30"
  }

  bgp_peer "backup_v4" {
    address_family = "ipv4"
    asn            = var.peer_asn # AWS assigns a /30 from 169.254.0.0/16
  }

  bgp_peer "v6" {
    address_family = "ipv6"
    asn            = "64086.59904" # asdot for 4200000000
  }
}
