terraform {
  required_version = ">= 1.10" # the S3 backend's use_lockfile

  # aws bounded to 6.x: a release between plan and apply cannot change the major under a
  # saved plan, and CI carries .terraform.lock.hcl from plan to apply (docs/operations.md).
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.28"
    }
  }

  # Partial configuration: environments/<env>.s3.tfbackend supplies key/region; the bucket
  # (qp-terraform-state-<env>-<account id>) is passed at init (make plan, CI).
  backend "s3" {}
}
