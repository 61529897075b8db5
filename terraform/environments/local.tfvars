# The embedded emulator (make demo / make test). Timeouts leave headroom for a loaded
# 2-core CI machine (one emulator process serves every function) yet keep retries quick.
environment       = "local"
emulator          = true
region            = "us-east-1"
max_receive_count = 3
sticky = {
  pool_size                      = 4
  assignment_ttl_seconds         = 60
  pool_message_retention_seconds = 600 # a lease of 11 minutes: expiry is seen in a session, not in days
  ingester_timeout               = 10
  dispatcher_timeout             = 10
  dispatcher_batch_size          = 100
}
cron_fanout = {
  schedule_expression  = "rate(1 minute)"
  max_workers          = 200
  worker_timeout       = 10
  worker_concurrency   = 4
  receive_wait_seconds = 1
}
relay = {
  schedule_expression  = "rate(1 minute)"
  timeout              = 10
  chain_budget_seconds = 300
}
workflow = {
  service_timeout = 10
}
