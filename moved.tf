# Each function, its role, policy and log group moved into modules/function: an upgrade
# moves them in state and changes nothing in AWS.

moved {
  from = aws_cloudwatch_log_group.function
  to   = module.presence_function.aws_cloudwatch_log_group.this
}

moved {
  from = aws_iam_role.function
  to   = module.presence_function.aws_iam_role.this
}

moved {
  from = aws_iam_role_policy.function
  to   = module.presence_function.aws_iam_role_policy.this
}

moved {
  from = aws_lambda_function.this
  to   = module.presence_function.aws_lambda_function.this
}

moved {
  from = aws_cloudwatch_log_group.notifier[0]
  to   = module.notifier[0].aws_cloudwatch_log_group.this
}

moved {
  from = aws_iam_role.notifier[0]
  to   = module.notifier[0].aws_iam_role.this
}

moved {
  from = aws_iam_role_policy.notifier[0]
  to   = module.notifier[0].aws_iam_role_policy.this
}

moved {
  from = aws_lambda_function.notifier[0]
  to   = module.notifier[0].aws_lambda_function.this
}

moved {
  from = aws_cloudwatch_log_group.counter[0]
  to   = module.counter[0].aws_cloudwatch_log_group.this
}

moved {
  from = aws_iam_role.counter[0]
  to   = module.counter[0].aws_iam_role.this
}

moved {
  from = aws_iam_role_policy.counter[0]
  to   = module.counter[0].aws_iam_role_policy.this
}

moved {
  from = aws_lambda_function.counter[0]
  to   = module.counter[0].aws_lambda_function.this
}
