# The embedded emulator (make demo / make test). Timeouts leave headroom for a loaded
# 2-core CI machine (one emulator process serves every function) yet keep retries quick.
environment       = "local"
emulator          = true
region            = "us-east-1"
max_receive_count = 3
sticky = {
  pool_size              = 4
  assignment_ttl_seconds = 60
  ingester_timeout       = 10
  dispatcher_timeout     = 10
  dispatcher_batch_size  = 10
}
