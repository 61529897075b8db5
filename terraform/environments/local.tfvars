# The embedded emulator (make demo / make test). Short timeouts keep retries fast.
environment       = "local"
emulator          = true
region            = "us-east-1"
max_receive_count = 3
sticky = {
  pool_size              = 4
  assignment_ttl_seconds = 60
  ingester_timeout       = 10
  dispatcher_timeout     = 3
  dispatcher_batch_size  = 10
}
