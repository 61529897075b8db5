provider "aws" {
  region = var.region

  # Emulators (embedded moto, LocalStack): endpoint from AWS_ENDPOINT_URL, fake credentials.
  skip_credentials_validation = var.emulator
  skip_requesting_account_id  = var.emulator
  skip_metadata_api_check     = var.emulator
  s3_use_path_style           = var.emulator

  default_tags {
    tags = local.tags
  }
}

# The tags of every resource, beside the provider that applies them (a root sharing this file
# tags alike).
locals {
  tags = {
    Project     = var.project
    Environment = var.environment
    ManagedBy   = "terraform"
  }
}
