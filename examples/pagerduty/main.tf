# Connectivity announcements paged to PagerDuty: the module with events, thing context and
# storm digests on, and modules/pagerduty turning them into incidents, one per device or
# one per storm. The routing key stays in a Secrets Manager secret created outside
# Terraform. Deployable to a real account or, with AWS_ENDPOINT_URL set (and events_url
# pointing at tools/pagerduty_receiver.py), to the local emulator.

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      ManagedBy = "terraform"
      Example   = "iot-device-connectivity/pagerduty"
    }
  }
}

module "device_connectivity" {
  source = "../.."

  name         = var.name
  table_name   = "${var.name}-DeviceConnectivity"
  event_source = "${var.name}.connectivity"

  events_enabled                  = true
  disconnect_grace_period_seconds = var.disconnect_grace_period_seconds
  thing_context_enabled           = true
  storm_digest                    = var.storm_digest

  tags = var.tags
}

module "pagerduty" {
  source = "../../modules/pagerduty"

  name                   = var.name
  event_source           = module.device_connectivity.event_source
  event_bus_name         = module.device_connectivity.event_bus_arn
  lambda_package         = module.device_connectivity.lambda_package
  routing_key_secret_arn = var.routing_key_secret_arn
  events_url             = var.events_url
  rate_per_minute        = var.rate_per_minute
  storm_wait_seconds     = var.storm_wait_seconds

  tags = var.tags
}
