terraform {
  # terraform_data (the build step) needs 1.4; 1.5.7 is the floor the module is tested on.
  required_version = ">= 1.5.7"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # logging_config on aws_lambda_function needs 5.27. No v6-only arguments are used.
      version = ">= 5.27, < 7.0"
    }
  }
}
