# BGP MD5 keys are secrets: never in git. The workflow passes each one from a repository secret as
# DXCTL_VAR_<name>, and dxctl shows it as (sensitive) everywhere.
variable "auth_key_dxvif_fg1vuj3d_v6" {
  description = "BGP MD5 key of the IPv6 peer on dxvif-fg1vuj3d, agreed with the router team"
  type        = string
  sensitive   = true
}
