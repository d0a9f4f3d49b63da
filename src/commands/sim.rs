//! `dxctl sim serve`: run the Direct Connect simulator until interrupted.

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::cli::SimServeArgs;
use crate::printer::Printer;
use crate::sim::{self, ServerLimits, SimOptions, World};

pub async fn serve(args: &SimServeArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    let mut world = World::load(&args.world)?;
    let sim = &mut world.sim;
    if let Some(d) = args.deletion_delay {
        sim.deletion_delay = Some(humantime::format_duration(d).to_string());
    }
    if let Some(seed) = args.seed {
        sim.seed = Some(seed);
    }
    let text = |d: std::time::Duration| Some(humantime::format_duration(d).to_string());
    if let Some(d) = args.deleted_retention {
        sim.deleted_retention = text(d);
    }
    if let Some(d) = args.bgp_up_delay {
        sim.bgp_up_delay = text(d);
    }
    if let Some(rule) = args.transitioning_rule {
        sim.transitioning_rule = Some(rule);
    }
    for spec in &args.consistency_window {
        let (region, d) = match spec.split_once('=') {
            Some((region, d)) => (Some(region), d),
            None => (None, spec.as_str()),
        };
        humantime::parse_duration(d)
            .with_context(|| format!("--consistency-window {spec}: not a duration"))?;
        match region {
            Some(region) => {
                sim.consistency_window_by_region
                    .insert(region.to_string(), d.to_string());
            }
            None => sim.consistency_window = Some(d.to_string()),
        }
    }
    for spec in &args.rate_limit {
        let (operation, limit) = spec
            .split_once('=')
            .with_context(|| format!("--rate-limit {spec}: expected OPERATION=RATE[/BURST]"))?;
        let limit = crate::sim::world::RateLimit::parse(limit)
            .map_err(|e| anyhow::anyhow!("--rate-limit {spec}: {e}"))?;
        sim.rate_limits.insert(operation.to_string(), limit);
    }
    for spec in &args.fault {
        sim.faults.set(spec)?;
    }
    sim.manual_approval |= args.manual_approval;
    let mut limits = ServerLimits {
        header_timeout: args.header_timeout,
        idle_timeout: args.idle_timeout,
        max_connections: args.max_connections,
    };
    if let Some(warning) = limits.fit_to_fd_limit() {
        printer.warning(&warning);
    }
    if let Some(warning) = exposure_warning(args.listen, !sim.credentials.is_empty()) {
        printer.warning(&warning);
    }
    let running = sim::start(
        world,
        SimOptions {
            listen: Some(args.listen),
            provision_delay: args.provision_delay,
            request_log: args.request_log.clone(),
            persist_to: None,
            limits,
        },
    )
    .await?;
    if let Some(path) = &args.port_file {
        crate::state::write_atomically(
            path,
            format!("{}\n", running.addr.port()).as_bytes(),
            false,
        )
        .with_context(|| format!("cannot write port file {}", path.display()))?;
    }
    printer.status(&format!(
        "dxctl simulator listening on {}",
        running.endpoint_url()
    ));
    // Ctrl-C stops the simulator gracefully (its world saved), and dxctl exits 0.
    let _ctrl_c = crate::interrupt::take_over();
    shutdown_signal().await;
    printer.status("dxctl simulator stopping");
    running.stop().await?;
    Ok(ExitCode::SUCCESS)
}

/// What to say, on stderr and even with `--quiet`, when the simulator listens beyond loopback (127.0.0.0/8, ::1).
fn exposure_warning(listen: SocketAddr, credentials: bool) -> Option<String> {
    if listen.ip().to_canonical().is_loopback() {
        return None;
    }
    let open = if credentials {
        "admin routes need a SigV4 signature from sim.credentials"
    } else {
        "without sim.credentials in the world, anyone who can reach it can read and change it, admin routes included"
    };
    Some(format!(
        "warning: the simulator is listening on {listen}, beyond loopback. Its world (GET /_sim/world) holds every \
         BGP auth key, and it speaks plain HTTP with no TLS; {open}. It is a test tool: prefer 127.0.0.1."
    ))
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        // Without a SIGTERM handler (it cannot be installed), Ctrl-C still stops the simulator.
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

#[cfg(test)]
mod tests {
    use super::exposure_warning;

    #[test]
    fn only_loopback_listens_without_a_warning() {
        for quiet in [
            "127.0.0.1:0",
            "127.9.8.7:80",
            "[::1]:0",
            "[::ffff:127.0.0.1]:0",
        ] {
            assert_eq!(
                exposure_warning(quiet.parse().unwrap(), false),
                None,
                "{quiet}"
            );
        }
        for loud in ["0.0.0.0:0", "[::]:0", "192.0.2.10:8080", "[2001:db8::1]:0"] {
            let warning = exposure_warning(loud.parse().unwrap(), true).expect(loud);
            assert!(
                warning.contains("beyond loopback") && warning.contains("no TLS"),
                "{warning}"
            );
            assert!(warning.contains("auth key"), "{warning}");
        }
        assert!(exposure_warning("0.0.0.0:0".parse().unwrap(), false)
            .unwrap()
            .contains("without sim.credentials"));
    }
}
