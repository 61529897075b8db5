output "value" {
  description = "The shared settings: name_prefix, code_root, artifacts_dir, metrics_namespace, log_retention_days."
  value       = local.value
}
