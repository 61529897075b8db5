# Plan-only checks of the root module with a mocked AWS provider (no credentials, no network).
mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_region" {
    defaults = { name = "us-east-1" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
}

variables {
  environment = "local"
  emulator    = true
  sticky = {
    pool_size          = 3
    dispatcher_timeout = 7
  }
}

run "standard_pool" {
  command = plan

  assert {
    condition     = length(module.sticky_queue.dispatcher_function_names) == 3
    error_message = "one dispatcher per pool queue"
  }

  assert {
    condition     = alltrue([for q in module.sticky_queue.pool_queues : q.visibility_timeout_seconds >= 6 * q.consumer_timeout])
    error_message = "pool queue visibility must be at least 6x the dispatcher timeout"
  }

  assert {
    condition     = alltrue([for k, d in module.sticky_queue.dispatcher_function_names : d == "qp-local-sticky-dispatcher-${k}"])
    error_message = "dispatchers are named after their pool queue"
  }

  assert {
    condition     = module.sticky_queue.dispatcher_scaling.batch_size <= 10 || module.sticky_queue.dispatcher_scaling.batching_window_seconds >= 1
    error_message = "a standard-queue mapping takes more than 10 records only with a batching window"
  }

  assert {
    condition     = alltrue([for q in module.sticky_queue.pool_queues : q.visibility_timeout_seconds >= 6 * q.consumer_timeout + module.sticky_queue.dispatcher_scaling.batching_window_seconds])
    error_message = "pool queue visibility must be at least 6x the dispatcher timeout plus the batching window"
  }
}

run "fifo_pool" {
  command = plan

  variables {
    sticky = {
      pool_size  = 2
      queue_type = "fifo"
    }
  }

  assert {
    condition     = length(module.sticky_queue.pool_queues) == 2
    error_message = "pool size follows the variable"
  }

  assert {
    condition     = module.sticky_queue.dispatcher_scaling.batch_size <= 10 && module.sticky_queue.dispatcher_scaling.batching_window_seconds == 0
    error_message = "FIFO mappings take at most 10 records and no batching window"
  }
}

run "a_shrink_keeps_the_queues_leaving_the_pool_until_drained" {
  command = plan

  variables {
    sticky = {
      pool_size   = 2
      queues_kept = 4
    }
  }

  assert {
    condition     = length(module.sticky_queue.pool_queues) == 4 && length(module.sticky_queue.dispatcher_function_names) == 4
    error_message = "queues beyond pool_size are kept, each with its dispatcher, while queues_kept says so"
  }
}

run "rejects_bad_queue_type" {
  command = plan

  variables {
    sticky = {
      pool_size  = 2
      queue_type = "lifo"
    }
  }

  expect_failures = [var.sticky]
}

run "a_pool_beyond_a_hundred_queues_plans" {
  command = plan

  variables {
    sticky = { pool_size = 101 }
  }

  assert {
    condition     = length(module.sticky_queue.pool_queues) == 101 && contains(keys(module.sticky_queue.pool_queues), "100")
    error_message = "no bound of 100 queues: the assignment check compares an index, not a list of URLs"
  }
}

run "rejects_a_pool_that_reserves_more_than_the_account_can" {
  command = plan

  variables {
    # 440 dispatchers x 2 + the fan-out worker's 20 + the relay's 2 = 902 > 1000 - 100
    sticky = { pool_size = 440 }
  }

  expect_failures = [var.sticky]
}

run "rejects_dispatcher_concurrency_the_account_cannot_reserve" {
  command = plan

  variables {
    # 9 dispatchers x 100 + 20 + 2 = 922 > 900
    sticky = { pool_size = 9, dispatcher_concurrency = 100 }
  }

  expect_failures = [var.sticky]
}

run "a_raised_quota_lets_the_same_pool_plan" {
  command = plan

  variables {
    sticky                   = { pool_size = 9, dispatcher_concurrency = 100 }
    lambda_concurrency_limit = 1100
  }

  assert {
    condition     = length(module.sticky_queue.pool_queues) == 9
    error_message = "the bound follows lambda_concurrency_limit"
  }
}
