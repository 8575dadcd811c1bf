# OpenovaFlow on Hetzner Cloud: one k3s control plane per region, handed over
# to Flux by cloud-init. The primary is var.region; every further Hetzner
# entry of var.regions is a secondary keyed <cloudRegion>-<n>.
#
# Rule for locals: resource attributes are used only as opaque strings (the
# golden test replaces them by placeholder strings; see README.md).

locals {
  slug = replace(var.sovereign_fqdn, ".", "-")

  labels = {
    "openova.io/sovereign" = local.slug
  }

  network_zones = {
    fsn1 = "eu-central"
    nbg1 = "eu-central"
    hel1 = "eu-central"
    ash  = "us-east"
    hil  = "us-west"
  }

  # n is the 1-based position among the non-primary Hetzner entries, so
  # non-Hetzner entries take no number: [fsn1, aws, hel1] gives hel1-1.
  secondary_list    = [for i, r in var.regions : r if i > 0 && r.provider == "hetzner"]
  secondary_regions = { for n, r in local.secondary_list : "${r.cloudRegion}-${n + 1}" => r }

  secondary_workers = merge([
    for key, r in local.secondary_regions : {
      for n in range(r.workerCount) : "${key}-w${n + 1}" => {
        region_key = key
        location   = r.cloudRegion
        size       = r.workerSize
        index      = n
      }
    }
  ]...)

  # Load balancer: tcp 80/443 to Cilium's gateway node ports, 6443 to the API.
  lb_services = {
    http  = { listen = 80, destination = 30080 }
    https = { listen = 443, destination = 30443 }
    api   = { listen = 6443, destination = 6443 }
  }
  secondary_lb_services = merge([
    for key in keys(local.secondary_regions) : {
      for name, s in local.lb_services : "${key}-${name}" => merge(s, { region_key = key })
    }
  ]...)

  # Removes every line that is only a comment (any indent, also inside block
  # scalars); "#cloud-config" and "#!" lines survive.
  comment_line_pattern = "/(?m)^[ ]*#( |$).*\n/"

  cp_cloud_init_primary = replace(templatefile("${path.module}/cloudinit-control-plane.tftpl", {
    sovereign_fqdn          = var.sovereign_fqdn
    sovereign_deployment_id = var.sovereign_deployment_id
    sovereign_region_key    = var.region
    is_primary              = true
    region                  = var.region
    org_name                = var.org_name
    org_email               = var.org_email
    k3s_version             = var.k3s_version
    k3s_token               = var.k3s_token
    cilium_version          = var.cilium_version
    flux_version            = var.flux_version
    gitops_repo_url         = var.gitops_repo_url
    gitops_branch           = var.gitops_branch
    gitops_path             = var.gitops_path
    worker_count            = var.worker_count
    load_balancer_ipv4      = hcloud_load_balancer.main.ipv4
    flow_server_url         = ""
    flow_ingest_token       = var.flow_ingest_token
    flow_read_token         = var.flow_read_token
    ghcr_pull_username      = var.ghcr_pull_username
    ghcr_pull_token         = var.ghcr_pull_token
  }), local.comment_line_pattern, "")

  cp_cloud_init_secondary = {
    for key, r in local.secondary_regions : key => replace(templatefile("${path.module}/cloudinit-control-plane.tftpl", {
      sovereign_fqdn          = var.sovereign_fqdn
      sovereign_deployment_id = var.sovereign_deployment_id
      sovereign_region_key    = key
      is_primary              = false
      region                  = r.cloudRegion
      org_name                = var.org_name
      org_email               = var.org_email
      k3s_version             = var.k3s_version
      k3s_token               = var.k3s_token
      cilium_version          = var.cilium_version
      flux_version            = var.flux_version
      gitops_repo_url         = var.gitops_repo_url
      gitops_branch           = var.gitops_branch
      gitops_path             = var.gitops_path
      worker_count            = r.workerCount
      load_balancer_ipv4      = hcloud_load_balancer.secondary[key].ipv4
      flow_server_url         = format("https://openova-flow.%s", var.sovereign_fqdn)
      flow_ingest_token       = var.flow_ingest_token
      flow_read_token         = var.flow_read_token
      ghcr_pull_username      = var.ghcr_pull_username
      ghcr_pull_token         = var.ghcr_pull_token
    }), local.comment_line_pattern, "")
  }
}

# ---------------------------------------------------------------------------
# Shared: SSH key and firewall.

resource "hcloud_ssh_key" "main" {
  name       = "${local.slug}-key"
  public_key = var.ssh_public_key
  labels     = local.labels
}

resource "hcloud_firewall" "main" {
  name   = "${local.slug}-fw"
  labels = local.labels

  rule {
    direction  = "in"
    protocol   = "tcp"
    port       = "80"
    source_ips = ["0.0.0.0/0", "::/0"]
  }

  rule {
    direction  = "in"
    protocol   = "tcp"
    port       = "443"
    source_ips = ["0.0.0.0/0", "::/0"]
  }

  rule {
    direction  = "in"
    protocol   = "tcp"
    port       = "6443"
    source_ips = ["0.0.0.0/0", "::/0"]
  }

  rule {
    direction  = "in"
    protocol   = "icmp"
    source_ips = ["0.0.0.0/0", "::/0"]
  }

  dynamic "rule" {
    for_each = length(var.ssh_allowed_cidrs) > 0 ? [var.ssh_allowed_cidrs] : []
    content {
      direction  = "in"
      protocol   = "tcp"
      port       = "22"
      source_ips = rule.value
    }
  }
}

# ---------------------------------------------------------------------------
# Primary region.

resource "hcloud_network" "main" {
  name     = "${local.slug}-${var.region}"
  ip_range = "10.0.0.0/16"
  labels   = local.labels
}

resource "hcloud_network_subnet" "main" {
  network_id   = hcloud_network.main.id
  type         = "cloud"
  network_zone = local.network_zones[var.region]
  ip_range     = "10.0.1.0/24"
}

resource "hcloud_load_balancer" "main" {
  name               = "${local.slug}-${var.region}"
  load_balancer_type = "lb11"
  location           = var.region
  labels             = merge(local.labels, { "openova.io/region-key" = var.region })
}

resource "hcloud_load_balancer_network" "main" {
  load_balancer_id = hcloud_load_balancer.main.id
  subnet_id        = hcloud_network_subnet.main.id
  ip               = "10.0.1.254"
}

resource "hcloud_load_balancer_service" "main" {
  for_each         = local.lb_services
  load_balancer_id = hcloud_load_balancer.main.id
  protocol         = "tcp"
  listen_port      = each.value.listen
  destination_port = each.value.destination
}

resource "hcloud_server" "control_plane" {
  name         = "${local.slug}-${var.region}-cp"
  image        = "ubuntu-24.04"
  server_type  = var.control_plane_size
  location     = var.region
  ssh_keys     = [hcloud_ssh_key.main.id]
  firewall_ids = [hcloud_firewall.main.id]
  user_data    = local.cp_cloud_init_primary
  labels = merge(local.labels, {
    "openova.io/role"       = "control-plane"
    "openova.io/region-key" = var.region
  })

  network {
    network_id = hcloud_network.main.id
    ip         = "10.0.1.2"
  }

  depends_on = [hcloud_network_subnet.main]

  lifecycle {
    # cloud-init runs only at first boot; a user_data diff would replace (wipe)
    # a running control plane. Re-provision explicitly with -replace.
    ignore_changes = [user_data]

    precondition {
      condition     = length(local.cp_cloud_init_primary) <= 32256
      error_message = "control-plane user_data for ${var.region} exceeds 32256 characters (Hetzner user_data limit is 32 KiB)"
    }

    precondition {
      condition     = alltrue([for i, r in var.regions : i > 0 || (r.provider == "hetzner" && r.cloudRegion == var.region)])
      error_message = "regions[0] must be the primary: {provider = \"hetzner\", cloudRegion = \"${var.region}\"}."
    }
  }
}

resource "hcloud_load_balancer_target" "main" {
  type             = "server"
  load_balancer_id = hcloud_load_balancer.main.id
  server_id        = hcloud_server.control_plane.id
  use_private_ip   = true

  depends_on = [hcloud_load_balancer_network.main]
}

resource "hcloud_server" "worker" {
  count        = var.worker_count
  name         = "${local.slug}-${var.region}-w${count.index + 1}"
  image        = "ubuntu-24.04"
  server_type  = var.worker_size
  location     = var.region
  ssh_keys     = [hcloud_ssh_key.main.id]
  firewall_ids = [hcloud_firewall.main.id]
  user_data = templatefile("${path.module}/cloudinit-worker.tftpl", {
    k3s_version = var.k3s_version
    k3s_token   = var.k3s_token
    region_key  = var.region
    node_ip     = cidrhost("10.0.1.0/24", 10 + count.index)
  })
  labels = merge(local.labels, {
    "openova.io/role"       = "worker"
    "openova.io/region-key" = var.region
  })

  network {
    network_id = hcloud_network.main.id
    ip         = cidrhost("10.0.1.0/24", 10 + count.index)
  }

  depends_on = [hcloud_network_subnet.main]

  lifecycle {
    ignore_changes = [user_data]
  }
}

# ---------------------------------------------------------------------------
# Secondary regions: the same shape, one isolated network each.

resource "hcloud_network" "secondary" {
  for_each = local.secondary_regions
  name     = "${local.slug}-${each.key}"
  ip_range = "10.0.0.0/16"
  labels   = local.labels
}

resource "hcloud_network_subnet" "secondary" {
  for_each     = local.secondary_regions
  network_id   = hcloud_network.secondary[each.key].id
  type         = "cloud"
  network_zone = local.network_zones[each.value.cloudRegion]
  ip_range     = "10.0.1.0/24"
}

resource "hcloud_load_balancer" "secondary" {
  for_each           = local.secondary_regions
  name               = "${local.slug}-${each.key}"
  load_balancer_type = "lb11"
  location           = each.value.cloudRegion
  labels             = merge(local.labels, { "openova.io/region-key" = each.key })
}

resource "hcloud_load_balancer_network" "secondary" {
  for_each         = local.secondary_regions
  load_balancer_id = hcloud_load_balancer.secondary[each.key].id
  subnet_id        = hcloud_network_subnet.secondary[each.key].id
  ip               = "10.0.1.254"
}

resource "hcloud_load_balancer_service" "secondary" {
  for_each         = local.secondary_lb_services
  load_balancer_id = hcloud_load_balancer.secondary[each.value.region_key].id
  protocol         = "tcp"
  listen_port      = each.value.listen
  destination_port = each.value.destination
}

resource "hcloud_server" "secondary_control_plane" {
  for_each     = local.secondary_regions
  name         = "${local.slug}-${each.key}-cp"
  image        = "ubuntu-24.04"
  server_type  = each.value.controlPlaneSize
  location     = each.value.cloudRegion
  ssh_keys     = [hcloud_ssh_key.main.id]
  firewall_ids = [hcloud_firewall.main.id]
  user_data    = local.cp_cloud_init_secondary[each.key]
  labels = merge(local.labels, {
    "openova.io/role"       = "control-plane"
    "openova.io/region-key" = each.key
  })

  network {
    network_id = hcloud_network.secondary[each.key].id
    ip         = "10.0.1.2"
  }

  depends_on = [hcloud_network_subnet.secondary]

  lifecycle {
    ignore_changes = [user_data]

    precondition {
      condition     = length(local.cp_cloud_init_secondary[each.key]) <= 32256
      error_message = "control-plane user_data for ${each.key} exceeds 32256 characters (Hetzner user_data limit is 32 KiB)"
    }
  }
}

resource "hcloud_load_balancer_target" "secondary" {
  for_each         = local.secondary_regions
  type             = "server"
  load_balancer_id = hcloud_load_balancer.secondary[each.key].id
  server_id        = hcloud_server.secondary_control_plane[each.key].id
  use_private_ip   = true

  depends_on = [hcloud_load_balancer_network.secondary]
}

resource "hcloud_server" "secondary_worker" {
  for_each     = local.secondary_workers
  name         = "${local.slug}-${each.key}"
  image        = "ubuntu-24.04"
  server_type  = each.value.size
  location     = each.value.location
  ssh_keys     = [hcloud_ssh_key.main.id]
  firewall_ids = [hcloud_firewall.main.id]
  user_data = templatefile("${path.module}/cloudinit-worker.tftpl", {
    k3s_version = var.k3s_version
    k3s_token   = var.k3s_token
    region_key  = each.value.region_key
    node_ip     = cidrhost("10.0.1.0/24", 10 + each.value.index)
  })
  labels = merge(local.labels, {
    "openova.io/role"       = "worker"
    "openova.io/region-key" = each.value.region_key
  })

  network {
    network_id = hcloud_network.secondary[each.value.region_key].id
    ip         = cidrhost("10.0.1.0/24", 10 + each.value.index)
  }

  depends_on = [hcloud_network_subnet.secondary]

  lifecycle {
    ignore_changes = [user_data]
  }
}
