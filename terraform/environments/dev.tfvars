environment        = "dev"
region             = "ap-northeast-1"
log_retention_days = 14
max_receive_count  = 5
sticky = {
  pool_size              = 4
  assignment_ttl_seconds = 300
}
