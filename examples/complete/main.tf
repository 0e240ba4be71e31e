# The module with the settings a platform team would pick for production, deployable
# to a real account or, with AWS_ENDPOINT_URL set, to the local emulator.

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      ManagedBy = "terraform"
      Example   = "iot-device-connectivity/complete"
    }
  }
}

module "device_connectivity" {
  source = "../.."

  name       = var.name
  table_name = "${var.name}-DeviceConnectivity"

  architecture               = var.architecture
  ignored_client_id_prefixes = ["iotconsole"]
  log_level                  = "INFO"
  log_retention_in_days      = 30

  status_index_enabled        = true
  item_ttl_days               = 90
  include_subscription_events = false

  tags = var.tags
}
