# The settings every pattern module and function of one environment shares, built and
# type-checked here, once. Tags are not among them: the provider's default_tags tag every resource.
#
# Terraform has no named types: a module that takes this object as a typed `object({...})`
# must spell the type out again, and each copy can drift from the others. So the shape is
# written only here (typed, validated inputs; one output), each root calls this module once,
# and the modules that read the object take it as `any` and read the attributes they use. The
# value they receive still has this module's object type, so reading an attribute that is not
# here fails the plan at the read.
locals {
  value = {
    name_prefix        = var.name_prefix
    code_root          = var.code_root
    artifacts_dir      = var.artifacts_dir
    metrics_namespace  = "QueuePatterns"
    log_retention_days = var.log_retention_days
  }
}
