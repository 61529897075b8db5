terraform {
  required_version = ">= 1.10" # S3 native state locking (use_lockfile)

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.28"
    }
  }
  # Local state on purpose: this creates what the main root's remote state needs.
  # Keep terraform.tfstate safe (or migrate it into the bucket afterwards).
}
