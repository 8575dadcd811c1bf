output "sovereign_fqdn" {
  description = "The Sovereign's base domain."
  value       = var.sovereign_fqdn
}

output "sovereign_deployment_id" {
  description = "The deployment id every region's emitter reports under (the flow id)."
  value       = var.sovereign_deployment_id
}

output "region_keys" {
  description = "Region keys: the primary first, then the secondaries sorted."
  value       = concat([var.region], sort(keys(local.secondary_regions)))
}

output "load_balancer_ipv4" {
  description = "Public IPv4 of the primary's load balancer."
  value       = hcloud_load_balancer.main.ipv4
}

output "load_balancer_ipv4_by_region_key" {
  description = "Public IPv4 of each region's load balancer, by region key."
  value = merge(
    { (var.region) = hcloud_load_balancer.main.ipv4 },
    { for key, lb in hcloud_load_balancer.secondary : key => lb.ipv4 },
  )
}

output "control_plane_ipv4_by_region_key" {
  description = "Public IPv4 of each region's control plane, by region key."
  value = merge(
    { (var.region) = hcloud_server.control_plane.ipv4_address },
    { for key, s in hcloud_server.secondary_control_plane : key => s.ipv4_address },
  )
}
