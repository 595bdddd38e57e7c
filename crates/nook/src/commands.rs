//! Each command: its arguments checked, the engine called, the result
//! written as Docker writes it.

use crate::cli::{
    self, Cli, Command, ContainerCommand, HealthcheckCommand, ImageCommand, SystemCommand,
};
use crate::progress::{Display, Mode};
use crate::render::{self, Template};
use crate::Failure;
use nook_engine::names::{familiar, familiar_repository};
use nook_engine::{short_id, Engine, EngineOptions, ImageRecord, PullOptions, Removal};
use serde_json::{json, Value};
use std::io::{IsTerminal, Read, Write};

type Result<T = ()> = std::result::Result<T, Failure>;

/// The engine's options from the global flags and the environment
/// (credentials).
fn engine_options(cli: &Cli) -> EngineOptions {
    EngineOptions {
        auth: nook_image::AuthConfig::from_env(&nook_image::auth::AuthEnv::current()),
        insecure_registries: cli.insecure_registries.clone(),
        cgroup_parent: cli.cgroup_parent.clone(),
        netns: cli.netns.clone(),
        ..Default::default()
    }
}

/// Run the command `cli` names; the exit status.
pub fn run(cli: Cli) -> Result<i32> {
    let options = engine_options(&cli);
    let engine = || Engine::open_with(&cli.root, options.clone());
    match cli.command {
        Command::Run(a) => return crate::containers::run(&engine()?, *a),
        Command::Container(ContainerCommand::Cleanup(a)) => {
            crate::containers::cleanup(engine()?, a)?
        }
        Command::Attach(a) => return crate::containers::attach(&engine()?, a),
        Command::Healthcheck(HealthcheckCommand::Run(a)) => {
            return crate::containers::healthcheck(&engine()?, a)
        }
        Command::Exec(a) => return crate::containers::exec(&engine()?, a),
        Command::Ps(a) => crate::listing::ps(&engine()?, a)?,
        Command::Logs(a) => crate::listing::logs(&engine()?, a)?,
        Command::Stop(a) => crate::containers::stop(&engine()?, a)?,
        Command::Kill(a) => crate::containers::kill(&engine()?, a)?,
        Command::Rm(a) => crate::containers::rm(&engine()?, a)?,
        Command::Inspect(a) => crate::listing::inspect(&engine()?, a)?,
        Command::Update(a) => crate::resources::update(&engine()?, *a)?,
        c @ (Command::Create(_)
        | Command::Start(_)
        | Command::Restart(_)
        | Command::Wait(_)
        | Command::Pause(_)
        | Command::Unpause(_)
        | Command::Rename(_)
        | Command::Top(_)
        | Command::Port(_)
        | Command::Stats(_)) => return crate::lifecycle::run(&engine()?, c),
        Command::Container(c) => match crate::lifecycle::command_of(c) {
            Ok(command) => return run(Cli { command, ..cli }),
            Err(prune) => crate::lifecycle::container_prune(&engine()?, prune)?,
        },
        Command::System(SystemCommand::Prune(a)) => crate::lifecycle::system_prune(&engine()?, a)?,
        Command::Volume(c) => crate::volumes::volume(&engine()?, c)?,
        Command::Network(c) => crate::networks::network(&engine()?, c)?,
        Command::Cp(a) => crate::volumes::cp(&engine()?, a)?,
        other => image_command(Cli {
            command: other,
            ..cli
        })?,
    }
    Ok(0)
}

/// Run an image (or login, system) command.
fn image_command(cli: Cli) -> Result {
    let options = engine_options(&cli);
    let engine = || Engine::open_with(&cli.root, options.clone());
    match cli.command {
        Command::Pull(a) | Command::Image(ImageCommand::Pull(a)) => pull(&engine()?, a),
        Command::Images(a) | Command::Image(ImageCommand::Ls(a)) => images(&engine()?, a),
        Command::Tag(a) | Command::Image(ImageCommand::Tag(a)) => {
            Ok(engine()?.tag(&a.source, &a.target)?)
        }
        Command::Rmi(a) | Command::Image(ImageCommand::Rm(a)) => rmi(&engine()?, a),
        Command::Load(a) | Command::Image(ImageCommand::Load(a)) => load(&engine()?, a),
        Command::Save(a) | Command::Image(ImageCommand::Save(a)) => save(&engine()?, a),
        Command::Import(a) | Command::Image(ImageCommand::Import(a)) => import(&engine()?, a),
        Command::Image(ImageCommand::Inspect(a)) => inspect(&engine()?, a),
        Command::Image(ImageCommand::Prune(a)) => prune(&engine()?, a),
        Command::System(SystemCommand::Df(a)) => df(&engine()?, a),
        Command::Login(a) => login(&engine()?, a),
        Command::Run(_)
        | Command::Exec(_)
        | Command::Ps(_)
        | Command::Logs(_)
        | Command::Stop(_)
        | Command::Kill(_)
        | Command::Rm(_)
        | Command::Inspect(_)
        | Command::Update(_)
        | Command::Create(_)
        | Command::Start(_)
        | Command::Restart(_)
        | Command::Wait(_)
        | Command::Pause(_)
        | Command::Unpause(_)
        | Command::Rename(_)
        | Command::Top(_)
        | Command::Port(_)
        | Command::Stats(_)
        | Command::Container(_)
        | Command::Healthcheck(_)
        | Command::Attach(_)
        | Command::Volume(_)
        | Command::Network(_)
        | Command::Cp(_)
        | Command::System(SystemCommand::Prune(_)) => {
            unreachable!("container commands are run by run()")
        }
        Command::Logout(a) => {
            let (key, removed) = engine()?.logout(a.server.as_deref())?;
            match removed {
                true => println!("Removing login credentials for {key}"),
                false => return Err(Failure(format!("not logged in to {key}"))),
            }
            Ok(())
        }
    }
}

fn pull(engine: &Engine, a: cli::Pull) -> Result {
    let mut options = PullOptions::default();
    if let Some(p) = &a.platform {
        options.platform = nook_image::Platform::parse(p)?;
    }
    let reference = nook_image::Reference::parse(&a.name)?;
    let mode = match (a.quiet, std::io::stderr().is_terminal()) {
        (true, _) => Mode::Quiet,
        (false, true) => Mode::Bars,
        (false, false) => Mode::Lines,
    };
    let display = Display::new(mode);
    if !a.name.contains(['@', ':'])
        || a.name
            .rsplit_once(':')
            .is_some_and(|(_, t)| t.contains('/'))
    {
        display.println("Using default tag: latest");
    }
    let what = reference.tag.clone().unwrap_or_else(|| "digest".into());
    display.println(&format!("{what}: Pulling from {}", reference.repository));
    let r = engine.pull(&a.name, &options, &display)?;
    display.println(&format!("Digest: {}", r.digest));
    let status = match r.updated {
        true => "Downloaded newer image for",
        false => "Image is up to date for",
    };
    display.println(&format!("Status: {status} {}", reference.familiar()));
    println!("{reference}");
    Ok(())
}

/// The rows `images` shows for one image: one per tag, else one per
/// repository digest, else one `<none>`.
fn image_rows(i: &ImageRecord) -> Vec<(String, String, Option<String>)> {
    let digest_of = |repo: &str| {
        i.repo_digests
            .iter()
            .find(|d| d.repository == repo)
            .map(|d| d.digest.to_string())
    };
    if !i.tags.is_empty() {
        return i
            .tags
            .iter()
            .map(|t| {
                let repo = familiar_repository(&t.repository);
                (repo, t.tag.clone(), digest_of(&t.repository))
            })
            .collect();
    }
    if !i.repo_digests.is_empty() {
        return i
            .repo_digests
            .iter()
            .map(|d| {
                let repo = familiar_repository(&d.repository);
                (repo, "<none>".into(), Some(d.digest.to_string()))
            })
            .collect();
    }
    vec![("<none>".into(), "<none>".into(), None)]
}

/// The fields of one `images` row, as `--format` sees them.
fn image_fields(i: &ImageRecord, row: &(String, String, Option<String>), full: bool) -> Value {
    let now = jiff::Timestamp::now().as_second();
    let tz = jiff::tz::TimeZone::system();
    let created = i.created.unwrap_or(i.added);
    json!({
        "Containers": "N/A",
        "CreatedAt": render::date(created, &tz),
        "CreatedSince": render::age(i.created, now),
        "Digest": row.2.clone().unwrap_or_else(|| "<none>".into()),
        "ID": if full { i.id.to_string() } else { short_id(&i.id) },
        "Repository": row.0,
        "SharedSize": "N/A",
        "Size": render::size(i.size),
        "Tag": row.1,
        "UniqueSize": "N/A",
        "VirtualSize": render::size(i.size),
    })
}

fn matches_filter(filter: &str, row: &(String, String, Option<String>)) -> bool {
    let (repo, tag) = match filter.rsplit_once(':') {
        Some((r, t)) if !t.contains('/') => (r, Some(t)),
        _ => (filter, None),
    };
    let repo_ok = row.0 == repo || row.0 == familiar_repository(repo);
    repo_ok && tag.is_none_or(|t| row.1 == t)
}

fn images(engine: &Engine, a: cli::Images) -> Result {
    let mut rows = Vec::new();
    for i in engine.images()? {
        for row in image_rows(&i) {
            if a.reference
                .as_deref()
                .is_none_or(|f| matches_filter(f, &row))
            {
                rows.push(image_fields(&i, &row, a.no_trunc));
            }
        }
    }
    let mut out = std::io::stdout().lock();
    if a.quiet {
        for r in &rows {
            writeln!(out, "{}", r["ID"].as_str().unwrap_or(""))?;
        }
        return Ok(());
    }
    match a.format.as_deref() {
        Some("json") => {
            for r in &rows {
                writeln!(out, "{r}")?;
            }
        }
        Some(f) if f != "table" => print_template(&mut out, f, &rows)?,
        _ => {
            let mut head = vec!["REPOSITORY", "TAG"];
            if a.digests {
                head.push("DIGEST");
            }
            head.extend(["IMAGE ID", "CREATED", "SIZE"]);
            let mut table = vec![head.iter().map(|s| s.to_string()).collect::<Vec<_>>()];
            for r in &rows {
                let mut keys = vec!["Repository", "Tag"];
                if a.digests {
                    keys.push("Digest");
                }
                keys.extend(["ID", "CreatedSince", "Size"]);
                table.push(
                    keys.iter()
                        .map(|k| r[k].as_str().unwrap_or("").to_string())
                        .collect(),
                );
            }
            write!(out, "{}", render::table(&table))?;
        }
    }
    Ok(())
}

/// Each of `rows` through the template `f`, one per line (a `table`
/// template's header first, the cells aligned).
pub(crate) fn print_template(out: &mut dyn Write, f: &str, rows: &[Value]) -> Result {
    let t = Template::parse(f)?;
    write!(out, "{}", t.render_all(rows, &|_| None)?)?;
    Ok(())
}

fn rmi(engine: &Engine, a: cli::Rmi) -> Result {
    let mut failed = false;
    for name in &a.images {
        match engine.remove_image(name, a.force) {
            Ok(done) => print_removals(&done, false),
            // reported as it fails; the others are still tried
            Err(e) => {
                eprintln!("Error: {e}");
                failed = true;
            }
        }
    }
    match failed {
        true => Err(Failure(String::new())),
        false => Ok(()),
    }
}

fn print_removals(done: &[Removal], lower: bool) {
    for r in done {
        let (word, what) = match r {
            Removal::Untagged(n) => ("Untagged", n.clone()),
            Removal::Deleted(d) => ("Deleted", d.to_string()),
        };
        match lower {
            true => println!("{}: {what}", word.to_lowercase()),
            false => println!("{word}: {what}"),
        }
    }
}

fn prune(engine: &Engine, a: cli::Prune) -> Result {
    if !a.force {
        let what = match a.all {
            true => "all images without at least one container associated to them",
            false => "all dangling images",
        };
        eprint!("WARNING! This will remove {what}.\nAre you sure you want to continue? [y/N] ");
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y") {
            return Ok(());
        }
    }
    let filter = crate::lifecycle::prune_filter(&a.filter, true)?;
    let report = engine.prune_images(a.all, &filter)?;
    if !report.removed.is_empty() {
        println!("Deleted Images:");
        print_removals(&report.removed, true);
        println!();
    }
    println!("Total reclaimed space: {}", render::size(report.reclaimed));
    Ok(())
}

/// `image inspect`.
pub(crate) fn inspect(engine: &Engine, a: cli::Inspect) -> Result {
    let mut all = Vec::new();
    for name in &a.images {
        all.push(engine.inspect(name)?.docker_json());
    }
    let mut out = std::io::stdout().lock();
    match a.format.as_deref() {
        None | Some("json") => {
            let text = serde_json::to_string_pretty(&all)?;
            writeln!(out, "{text}")?;
        }
        Some(f) => print_template(&mut out, f, &all)?,
    }
    Ok(())
}

fn df(engine: &Engine, a: cli::Df) -> Result {
    let u = engine.disk_usage()?;
    let pct = |part: u64, whole: u64| match whole {
        0 => 0,
        w => part * 100 / w,
    };
    let rows = [
        json!({"Type": "Images", "TotalCount": u.images.to_string(), "Active": u.active.to_string(),
               "Size": render::size(u.size),
               "Reclaimable": format!("{} ({}%)", render::size(u.reclaimable), pct(u.reclaimable, u.size))}),
        json!({"Type": "Containers", "TotalCount": u.containers.to_string(), "Active": "0",
               "Size": "0B", "Reclaimable": "0B"}),
        crate::volumes::df_row(&engine.volume_usage()?),
    ];
    let mut out = std::io::stdout().lock();
    match a.format.as_deref() {
        Some("json") => {
            for r in &rows {
                writeln!(out, "{r}")?;
            }
        }
        Some(f) => print_template(&mut out, f, &rows)?,
        None => {
            let mut t = vec![["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
                .map(String::from)
                .to_vec()];
            for r in &rows {
                t.push(
                    ["Type", "TotalCount", "Active", "Size", "Reclaimable"]
                        .iter()
                        .map(|k| r[k].as_str().unwrap_or("").to_string())
                        .collect(),
                );
            }
            write!(out, "{}", render::table(&t))?;
        }
    }
    Ok(())
}

fn load(engine: &Engine, a: cli::Load) -> Result {
    let loaded = match &a.input {
        Some(p) => engine.load(p)?,
        None => {
            if std::io::stdin().is_terminal() {
                return Err(Failure(
                    "requested load from stdin, but stdin is empty (use -i FILE)".into(),
                ));
            }
            // an archive is read by seeking: stdin goes to a file first
            let tmp = tempfile_in(engine)?;
            let mut f = std::fs::File::create(&tmp.0)?;
            std::io::copy(&mut std::io::stdin().lock(), &mut f)?;
            drop(f);
            engine.load(&tmp.0)?
        }
    };
    if a.quiet {
        return Ok(());
    }
    for l in loaded {
        if l.names.is_empty() {
            println!("Loaded image ID: {}", l.id);
        }
        for n in &l.names {
            println!("Loaded image: {}", familiar(n));
        }
    }
    Ok(())
}

/// A temporary file under the store root, removed when dropped.
struct TmpFile(std::path::PathBuf);

impl Drop for TmpFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn tempfile_in(engine: &Engine) -> Result<TmpFile> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let name = format!("tmp-load-{}-{nanos}", std::process::id());
    Ok(TmpFile(engine.root().join(name)))
}

fn save(engine: &Engine, a: cli::Save) -> Result {
    let format: nook_engine::SaveFormat = a.format.parse()?;
    let names: Vec<&str> = a.images.iter().map(String::as_str).collect();
    let Some(path) = &a.output else {
        let stdout = std::io::stdout();
        if stdout.is_terminal() {
            return Err(Failure(
                "cowardly refusing to save to a terminal: use the -o flag or redirect".into(),
            ));
        }
        let mut out = std::io::BufWriter::new(stdout.lock());
        engine.save(&names, format, &mut out)?;
        out.flush()?;
        return Ok(());
    };
    // written beside the target and renamed: no half archive is left
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    let dir = dir.unwrap_or(std::path::Path::new("."));
    let file_name = path
        .file_name()
        .ok_or_else(|| Failure(format!("invalid output path {}", path.display())))?;
    let tmp = TmpFile(dir.join(format!(
        ".{}.nook-tmp-{}",
        file_name.to_string_lossy(),
        std::process::id()
    )));
    let f = std::fs::File::create(&tmp.0)
        .map_err(|e| Failure(format!("create {}: {e}", tmp.0.display())))?;
    let mut out = std::io::BufWriter::new(f);
    engine.save(&names, format, &mut out)?;
    let f = out
        .into_inner()
        .map_err(|e| Failure(format!("write {}: {}", path.display(), e.error())))?;
    f.sync_all()?;
    std::fs::rename(&tmp.0, path)
        .map_err(|e| Failure(format!("rename to {}: {e}", path.display())))?;
    Ok(())
}

fn import(engine: &Engine, a: cli::Import) -> Result {
    let id = engine.import(&a.file, a.reference.as_deref())?;
    println!("{id}");
    Ok(())
}

fn login(engine: &Engine, a: cli::Login) -> Result {
    let username = match a.username {
        Some(u) => u,
        None => {
            if !std::io::stdin().is_terminal() {
                return Err(Failure(
                    "cannot perform an interactive login from a non-TTY device (use -u)".into(),
                ));
            }
            eprint!("Username: ");
            let mut u = String::new();
            std::io::stdin().read_line(&mut u)?;
            u.trim().to_string()
        }
    };
    let password = match (a.password, a.password_stdin) {
        (Some(_), true) => {
            return Err(Failure(
                "--password and --password-stdin are mutually exclusive".into(),
            ))
        }
        (Some(p), false) => p,
        (None, true) => {
            let mut p = String::new();
            std::io::stdin().read_to_string(&mut p)?;
            p.trim_end_matches(['\n', '\r']).to_string()
        }
        (None, false) => read_password()?,
    };
    if username.is_empty() || password.is_empty() {
        return Err(Failure("a user name and a password are needed".into()));
    }
    let creds = nook_engine::Credentials { username, password };
    engine.login(a.server.as_deref(), &creds)?;
    println!("Login Succeeded");
    Ok(())
}

/// A password read from the terminal without echo.
fn read_password() -> Result<String> {
    use nix::sys::termios::{self, LocalFlags, SetArg};
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(Failure(
            "cannot perform an interactive login from a non-TTY device (use --password-stdin)"
                .into(),
        ));
    }
    eprint!("Password: ");
    let old = termios::tcgetattr(&stdin)?;
    let mut quiet = old.clone();
    quiet.local_flags.remove(LocalFlags::ECHO);
    termios::tcsetattr(&stdin, SetArg::TCSANOW, &quiet)?;
    let mut p = String::new();
    let r = stdin.read_line(&mut p);
    let _ = termios::tcsetattr(&stdin, SetArg::TCSANOW, &old);
    eprintln!();
    r?;
    Ok(p.trim_end_matches(['\n', '\r']).to_string())
}
