output "name" {
  description = "Bucket name."
  value       = aws_s3_bucket.this.id
}

output "arn" {
  description = "Bucket ARN (known at plan time; available once the bucket exists)."
  value       = local.arn
  depends_on  = [aws_s3_bucket.this]
}
