//! The one Lambda binary of the module: every function deploys the same package and names
//! its role in its `handler` setting (`_HANDLER`): presence, notifier or counter.

use iot_connectivity::roles::Role;
use lambda_runtime::tracing::error;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    iot_connectivity::shared::logging::init(std::io::stdout);
    let role = Role::from_env().inspect_err(|err| error!(error = %err, "cannot start"))?;
    role.run().await
}
