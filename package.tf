# The deployment package, one for every function: built from function/ with cargo-lambda
# (default), or a prebuilt zip on disk (package_path) or in S3 (s3_package).
#
# How the build avoids the known traps of building Lambda packages in Terraform:
# - Only the inputs of the binary are hashed at plan (function/src/**, the manifests and
#   Cargo.lock), never target/ or the zip, and no timestamps: a plan on a fresh clone
#   with existing state shows no change.
# - The zip path is content-addressed by that hash and relative to the root module, so
#   a source change changes `filename` (the provider then uploads the new code) and the
#   same source plans identically from any checkout.
# - source_code_hash is left to the provider, which reads Lambda's CodeSha256 back: the
#   zip never has to exist at plan time, so no "inconsistent final plan".
# - The build runs at apply in terraform_data (never in a data source), before the
#   function, and only when the hash, architecture or function name changes.

locals {
  build_package = var.package_path == null && var.s3_package == null

  source_files = ["Cargo.toml", "Cargo.lock", "function/Cargo.toml"]
  source_hash = sha256(join("\n", [
    for file in sort(concat(local.source_files, tolist(fileset(path.module, "function/src/**")))) :
    "${file} ${filesha256("${path.module}/${file}")}"
  ]))

  build_directory   = "${path.root}/builds/${var.name}/${var.architecture}-${substr(local.source_hash, 0, 16)}"
  built_package     = "${local.build_directory}/bootstrap/bootstrap.zip"
  cargo_lambda_arch = var.architecture == "arm64" ? "--arm64" : "--x86-64"

  # One package for every function: each names its role in `handler` (presence,
  # notifier, counter), which a custom runtime reads as _HANDLER.
  package = {
    filename = local.build_package ? local.built_package : var.package_path
    # A missing zip is Lambda's error at apply (naming the path), not a hash error at plan.
    source_code_hash = var.package_path == null ? null : (fileexists(var.package_path) ? filebase64sha256(var.package_path) : null)
    # Both given is refused by a precondition (presence.tf), not by the provider's own
    # complaint about the function's arguments.
    s3_bucket         = var.package_path == null ? try(var.s3_package.bucket, null) : null
    s3_key            = var.package_path == null ? try(var.s3_package.key, null) : null
    s3_object_version = var.package_path == null ? try(var.s3_package.object_version, null) : null
  }
}

resource "terraform_data" "build" {
  count = local.build_package ? 1 : 0

  triggers_replace = {
    source_hash   = local.source_hash
    architecture  = var.architecture
    function_name = local.function_name
  }

  provisioner "local-exec" {
    working_dir = path.module
    command     = "cargo lambda build --release --no-default-features --bin bootstrap ${local.cargo_lambda_arch} --output-format zip --lambda-dir '${abspath(local.build_directory)}'"
  }
}
