variable "peer_asn" {
  description = "our side's ASN for the new peers"
  type        = number
  default     = 64600
}

# Secrets stay out of git: set DXCTL_VAR_eu_auth_key in the environment (or pass --var),
# and dxctl shows the value as (sensitive) everywhere.
variable "eu_auth_key" {
  description = "BGP MD5 key agreed with the EU router team"
  type        = string
  sensitive   = true
}
