environment        = "stg"
region             = "ap-northeast-1"
log_retention_days = 30
max_receive_count  = 5
sticky = {
  pool_size              = 8
  assignment_ttl_seconds = 300
}
