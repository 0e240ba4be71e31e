# The deployment package: built from function/ with cargo-lambda (default), or a
# prebuilt zip on disk (package_path) or in S3 (s3_package).
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

  build_directory        = "${path.root}/builds/${var.name}/${var.architecture}-${substr(local.source_hash, 0, 16)}"
  built_package          = "${local.build_directory}/bootstrap/bootstrap.zip"
  built_notifier_package = "${local.build_directory}/notifier/bootstrap.zip"
  built_counter_package  = "${local.build_directory}/counter/bootstrap.zip"
  # The notifier and the counter are built only when they are deployed.
  built_binaries = concat(
    ["bootstrap"],
    var.events_enabled ? ["notifier"] : [],
    var.connected_devices_metric_enabled ? ["counter"] : [],
  )
  cargo_lambda_arch = var.architecture == "arm64" ? "--arm64" : "--x86-64"
}

resource "terraform_data" "build" {
  count = local.build_package ? 1 : 0

  triggers_replace = {
    source_hash   = local.source_hash
    architecture  = var.architecture
    function_name = local.function_name
    binaries      = join(",", local.built_binaries)
  }

  provisioner "local-exec" {
    working_dir = path.module
    command     = "cargo lambda build --release --no-default-features ${join(" ", [for bin in local.built_binaries : "--bin ${bin}"])} ${local.cargo_lambda_arch} --output-format zip --lambda-dir '${abspath(local.build_directory)}'"
  }
}
