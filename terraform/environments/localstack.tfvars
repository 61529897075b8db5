# LocalStack (make test TARGET=localstack): the same root applied with AWS_ENDPOINT_URL set.
# `environment` stays "local" (the names LocalStack and the embedded emulator hold are the
# same); the settings match local.tfvars so a scenario means the same on both targets.
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
  dispatcher_batch_size          = 10
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
