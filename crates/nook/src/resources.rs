//! The resource flags of `run`/`create` and the `update` command: the
//! flags handed to nook-engine's parser (Docker's units and messages),
//! Docker's warnings printed (`inspect` shows the limits from the
//! spec's `io.nook.resources` annotation: see `listing`).

use crate::cli;
use crate::Failure;
use nook_engine::container::resources::{HostLimits, ResourceFlags, Resources};
use nook_engine::Engine;

type Result<T = ()> = std::result::Result<T, Failure>;

fn flags(l: &cli::LimitArgs) -> ResourceFlags {
    ResourceFlags {
        memory: l.memory.clone(),
        memory_swap: l.memory_swap.clone(),
        memory_reservation: l.memory_reservation.clone(),
        kernel_memory: l.kernel_memory.clone(),
        cpus: l.cpus.clone(),
        cpu_shares: l.cpu_shares.clone(),
        cpu_period: l.cpu_period.clone(),
        cpu_quota: l.cpu_quota.clone(),
        cpuset_cpus: l.cpuset_cpus.clone(),
        cpuset_mems: l.cpuset_mems.clone(),
        pids_limit: l.pids_limit.clone(),
        blkio_weight: l.blkio_weight.clone(),
        blkio_weight_device: l.blkio_weight_device.clone(),
        device_read_bps: l.device_read_bps.clone(),
        device_write_bps: l.device_write_bps.clone(),
        device_read_iops: l.device_read_iops.clone(),
        device_write_iops: l.device_write_iops.clone(),
        oom_kill_disable: l.oom_kill_disable,
        memory_swappiness: None,
        oom_score_adj: None,
        shm_size: None,
    }
}

fn warn(warnings: &[String]) {
    for w in warnings {
        eprintln!("WARNING: {w}");
    }
}

/// The limits `run`/`create` asks for, checked against this host (Docker's
/// warnings printed); the engine checks them again.
pub fn for_run(a: &cli::ResourceArgs) -> Result<Resources> {
    let mut f = flags(&a.limits);
    f.oom_score_adj = a.oom_score_adj.clone();
    f.shm_size = a.shm_size.clone();
    f.memory_swappiness = a.memory_swappiness.clone();
    let mut r = f.parse()?;
    warn(&r.check(&HostLimits::probe(), false)?);
    Ok(r)
}

/// `update`: each container named gets the new limits; its name is
/// printed when done.
pub fn update(engine: &Engine, a: cli::Update) -> Result {
    let delta = flags(&a.limits).parse()?;
    let mut failed = false;
    for n in &a.containers {
        let updated = match &a.restart {
            Some(p) => engine.set_restart_policy(n, p),
            None => Ok(()),
        };
        match updated.and_then(|()| engine.update_container(n, &delta)) {
            Ok(w) => {
                warn(&w);
                println!("{n}");
            }
            Err(e) => {
                eprintln!("Error: {}", e.to_string().replace('\n', " "));
                failed = true;
            }
        }
    }
    match failed {
        true => Err(Failure(String::new())),
        false => Ok(()),
    }
}
