# Connectivity history (history_enabled): the presence function keeps every connect and
# disconnect it is given in a second table, one item per event under a key derived from
# the event, so a duplicate or a replay rewrites nothing and any arrival order stores the
# same history. Sessions and availability are computed from it by the `connectivity`
# CLI (function/src/history/sessions.rs). Nothing here exists while it is off.

locals {
  history       = var.history_enabled ? 1 : 0
  history_table = "${var.table_name}-history"

  history_environment = var.history_enabled ? {
    HISTORY_TABLE_NAME        = local.history_table
    HISTORY_RETENTION_SECONDS = tostring(var.history_retention_days * 86400)
  } : {}
}

resource "aws_dynamodb_table" "history" {
  count = local.history

  name                        = local.history_table
  billing_mode                = var.billing_mode
  read_capacity               = var.billing_mode == "PROVISIONED" ? var.provisioned_capacity.read : null
  write_capacity              = var.billing_mode == "PROVISIONED" ? var.provisioned_capacity.write : null
  hash_key                    = "ClientID"
  range_key                   = "EventKey"
  deletion_protection_enabled = var.deletion_protection_enabled

  attribute {
    name = "ClientID"
    type = "S"
  }

  # <timestamp, 15 digits>#<c|d>#<versionNumber>: a client's events sort by time, so a
  # window is one Query (BETWEEN on the sort key).
  attribute {
    name = "EventKey"
    type = "S"
  }

  # history_retention_days after the event's own timestamp.
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
      condition     = length(local.history_table) <= 255
      error_message = "With history_enabled, table_name may have at most 247 characters (the history table adds \"-history\")."
    }
  }
}
