terraform {
  required_version = ">= 1.7"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.28"
    }
  }

  # Partial configuration: environments/<env>.s3.tfbackend supplies bucket/key/region.
  backend "s3" {}
}
