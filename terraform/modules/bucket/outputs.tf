output "name" {
  description = "Bucket name (known at plan time; available once the bucket exists)."
  value       = var.name
  depends_on  = [aws_s3_bucket.this]
}

output "arn" {
  description = "Bucket ARN (known at plan time; available once the bucket exists)."
  value       = local.arn
  depends_on  = [aws_s3_bucket.this]
}
