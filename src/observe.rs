//! The only code that describes AWS: one DescribeVirtualInterfaces per scope, plus connection and LAG facts only where the plan needs them.

use std::collections::BTreeSet;

use futures::future::try_join_all;

use crate::aws::{AwsError, DirectConnect};
use crate::model::{Desired, Observed, Scope};
use crate::plan::{self, Plan};
use crate::state::State;

/// What AWS looks like, the plan against it, and the state it planned against (its settled intents applied).
pub struct Observation {
    pub observed: Observed,
    pub plan: Plan,
    pub settled: State,
}

/// Describes every region (and profile) the config or the state touches, in parallel, and plans against it. The
/// call count grows with regions, never with VIFs. The planner runs once, or twice when it asked for connection
/// and LAG facts it lacked.
pub async fn observe<D: DirectConnect>(
    dc: &D,
    desired: &Desired,
    owned: &State,
) -> Result<Observation, AwsError> {
    let mut scopes: BTreeSet<Scope> = desired.vifs.iter().map(|v| v.scope.clone()).collect();
    scopes.extend(owned.peers.iter().map(|r| Scope {
        region: r.region.clone(),
        profile: r.profile.clone(),
    }));
    scopes.extend(owned.intents.iter().map(|i| Scope {
        region: i.region.clone(),
        profile: i.profile.clone(),
    }));
    let described = try_join_all(scopes.iter().map(|s| async move {
        let started = crate::clock::now_ms();
        let vifs = dc.describe_virtual_interfaces(s).await?;
        tracing::debug!(scope = %s, vifs = vifs.len(), "described");
        Ok::<_, AwsError>((s.clone(), started, vifs))
    }))
    .await?;
    let mut observed = Observed::default();
    for (scope, started, vifs) in described {
        observed.described_at_ms.insert(scope, started);
        observed.vifs.extend(vifs);
    }
    observed
        .vifs
        .sort_by(|a, b| (&a.scope, &a.id).cmp(&(&b.scope, &b.id)));
    // The planner says which connection and LAG facts it lacks; only those regions are asked.
    let (first, settled) = plan::plan_and_settle(desired, &observed, owned);
    if first.missing_facts.is_empty() {
        return Ok(Observation {
            observed,
            plan: first,
            settled,
        });
    }
    let facts = try_join_all(
        first
            .missing_facts
            .iter()
            .map(|s| dc.describe_logical_redundancy(s)),
    )
    .await?;
    for f in facts {
        observed.logical_redundancy.extend(f);
    }
    let (plan, settled) = plan::plan_and_settle(desired, &observed, owned);
    Ok(Observation {
        observed,
        plan,
        settled,
    })
}
