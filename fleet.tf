# What announcements know beyond one device (events_enabled): maintenance windows and
# storm digests keep their state in the fleet table, one partition per purpose, and the
# announcements' JSON Schemas can be registered with EventBridge. Nothing here exists
# while maintenance_windows_enabled, storm_digest and schema_registry_name are off.
#
# The fleet table's items (function/ reads and writes them):
#   maintenance windows  PK = "maintenance",                SK = <windowId>
#   storm heads          PK = "storm#<groupBy>#<group>",    SK = "#"
#   storm members        PK = "storm#<groupBy>#<group>",    SK = "member#<clientId>"
# An item with ExpiresAt is removed after that time (DynamoDB TTL).

locals {
  fleet       = var.maintenance_windows_enabled || var.storm_digest != null ? 1 : 0
  fleet_table = "${var.table_name}-fleet"
  # Built from its name, like the bus's: the notifier's policy, scoped to it, is known at plan.
  fleet_table_arn = "arn:${data.aws_partition.current.partition}:dynamodb:${data.aws_region.current.id}:${local.account_id}:table/${local.fleet_table}"
  schemas         = var.schema_registry_name == null ? 0 : 1
}

resource "aws_dynamodb_table" "fleet" {
  count = local.fleet

  name                        = local.fleet_table
  billing_mode                = var.billing_mode
  read_capacity               = var.billing_mode == "PROVISIONED" ? var.provisioned_capacity.read : null
  write_capacity              = var.billing_mode == "PROVISIONED" ? var.provisioned_capacity.write : null
  hash_key                    = "PK"
  range_key                   = "SK"
  deletion_protection_enabled = var.deletion_protection_enabled

  attribute {
    name = "PK"
    type = "S"
  }

  attribute {
    name = "SK"
    type = "S"
  }

  ttl {
    attribute_name = "ExpiresAt"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = var.point_in_time_recovery_enabled
  }

  server_side_encryption {
    enabled     = var.table_kms_key_arn != null
    kms_key_arn = var.table_kms_key_arn
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition     = length(local.fleet_table) <= 255
      error_message = "With maintenance_windows_enabled or storm_digest, table_name may have at most 249 characters (the fleet table adds \"-fleet\")."
    }
  }
}

# One schema per event family, in the caller's registry: the device events (Device
# Connected, Device Disconnected) and the fleet events (Fleet Connectivity Degraded,
# Fleet Connectivity Restored). A changed file publishes a new schema version.
resource "aws_schemas_schema" "device_events" {
  count = local.schemas

  name          = "${var.name}@DeviceConnectivityEvent"
  registry_name = var.schema_registry_name
  type          = "JSONSchemaDraft4"
  description   = substr("Device Connected and Device Disconnected announcements of source ${var.event_source} (deployment ${var.name}).", 0, 256)
  content       = file("${path.module}/schemas/device-connectivity-event.schema.json")
  tags          = var.tags
}

resource "aws_schemas_schema" "fleet_events" {
  count = local.schemas

  name          = "${var.name}@FleetConnectivityEvent"
  registry_name = var.schema_registry_name
  type          = "JSONSchemaDraft4"
  description   = substr("Fleet Connectivity Degraded and Fleet Connectivity Restored announcements of source ${var.event_source} (deployment ${var.name}).", 0, 256)
  content       = file("${path.module}/schemas/fleet-connectivity-event.schema.json")
  tags          = var.tags
}
