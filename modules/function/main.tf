# What every function of the module repeats: its log group (created first, so Lambda makes
# no unmanaged one), its execution role with the caller's policy, and the function itself,
# running one role of the one `bootstrap` package with JSON logs. Internal: the root module
# is its only caller, so its interface may change with it.

resource "aws_cloudwatch_log_group" "this" {
  name              = "/aws/lambda/${var.function_name}"
  retention_in_days = var.common.log_retention_in_days
  kms_key_id        = var.common.log_kms_key_arn
  tags              = var.common.tags
}

resource "aws_iam_role" "this" {
  name               = var.function_name
  assume_role_policy = var.common.assume_role_policy
  tags               = var.common.tags
}

resource "aws_iam_role_policy" "this" {
  name   = var.role_policy_name
  role   = aws_iam_role.this.id
  policy = var.policy
}

resource "aws_lambda_function" "this" {
  # checkov:skip=CKV_AWS_115: the caller bounds concurrency (reserved_concurrent_executions for the presence function; the notifier's and counter's sources bound theirs)
  # checkov:skip=CKV_AWS_116: failed invocations go to the caller's on-failure destination or are retried by their source
  # checkov:skip=CKV_AWS_117: the functions talk only to AWS APIs; a VPC protects nothing here
  # checkov:skip=CKV_AWS_173: the environment holds no secrets
  # checkov:skip=CKV_AWS_272: the package is built at apply; signing needs a profile the caller owns
  # checkov:skip=CKV_AWS_50: JSON logs carry the request ID; X-Ray needs xray:PutTraceSegments on "*"
  function_name = var.function_name
  # Lambda allows 256 characters; table names may have 255.
  description   = substr(var.description, 0, 256)
  role          = aws_iam_role.this.arn
  runtime       = "provided.al2023"
  handler       = var.handler
  architectures = [var.common.architecture]
  memory_size   = var.common.memory_size
  timeout       = var.timeout

  reserved_concurrent_executions = var.reserved_concurrent_executions

  filename          = var.common.package.filename
  source_code_hash  = var.common.package.source_code_hash
  s3_bucket         = var.common.package.s3_bucket
  s3_key            = var.common.package.s3_key
  s3_object_version = var.common.package.s3_object_version

  environment {
    variables = var.environment
  }

  logging_config {
    log_format            = "JSON"
    log_group             = aws_cloudwatch_log_group.this.name
    application_log_level = var.common.log_level
    system_log_level      = var.common.system_log_level
  }

  tags = var.common.tags

  # The policy first, or the first invocations fail to write their logs.
  depends_on = [aws_iam_role_policy.this]
}
