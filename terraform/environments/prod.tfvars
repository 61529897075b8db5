environment        = "prod"
region             = "ap-northeast-1"
log_retention_days = 90
max_receive_count  = 5
sticky = {
  pool_size              = 16
  assignment_ttl_seconds = 300
}
