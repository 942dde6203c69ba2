//! `make bench` part for the build engine. Prints a Markdown table for docs/benchmarks.md:
//! - berth's build against `docker build` (the CLI, same classic builder, same context, no
//!   cache for either: each build gets its own nonce), median of several alternating runs;
//! - a rebuild with no change (everything from the cache);
//! - a clone of a repository with 1,000 commits against an incremental fetch of one more.
//!
//! Needs the base image (`make base-image`). Run: `cargo run --release -p berth-build
//! --example bench_build [runs]`.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use berth_build::{checkout, BuildSpec, CancelToken, Engine, EventSink, GitRef, SourceSpec};
use berth_domain::{BranchName, RelativePath, RepositoryUrl};
use git2::{Repository, Signature};

const WORK: &str = "RUN i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; echo $i > /count\n";

fn commit(repo: &Repository, dir: &Path, files: &[(&str, String)], message: &str) -> String {
    for (name, content) in files {
        std::fs::write(dir.join(name), content).expect("write");
    }
    let mut index = repo.index().expect("index");
    index
        .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
        .expect("add");
    index.write().expect("write index");
    let tree = repo
        .find_tree(index.write_tree().expect("tree"))
        .expect("tree");
    let sig = Signature::now("bench", "bench@example.com").expect("sig");
    let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
    let parents: Vec<&git2::Commit> = parent.iter().collect();
    repo.commit(Some("HEAD"), &sig, &sig, message, &tree, &parents)
        .expect("commit")
        .to_string()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.0}", d.as_secs_f64() * 1000.0)
}

#[allow(clippy::print_stdout, clippy::unwrap_used)]
#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(3);
    let engine = Engine::connect().await.expect("the Docker engine");
    let work = tempfile::tempdir().unwrap();

    // A repository with 1,000 commits.
    let origin = work.path().join("origin");
    std::fs::create_dir_all(&origin).unwrap();
    let repo = Repository::init(&origin).unwrap();
    repo.set_head("refs/heads/main").unwrap();
    for i in 0..1000 {
        commit(
            &repo,
            &origin,
            &[
                ("counter.txt", format!("{i}\n")),
                (&format!("file{}.txt", i % 50), format!("{i}\n")),
            ],
            &format!("commit {i}"),
        );
    }
    let spec = SourceSpec {
        repository: RepositoryUrl::parse(&format!("file://{}", origin.display())).unwrap(),
        reference: GitRef::Branch(BranchName::parse("main").unwrap()),
        credentials: None,
        submodules: false,
        local_roots: vec![std::env::temp_dir()],
        max_checkout_bytes: 2048 << 20,
    };
    let checkout_dir = work.path().join("checkout");
    let t = Instant::now();
    checkout(
        &spec,
        &checkout_dir,
        &EventSink::discard(),
        &CancelToken::new(),
    )
    .unwrap();
    let clone = t.elapsed();
    commit(
        &repo,
        &origin,
        &[("counter.txt", "one more\n".into())],
        "one more",
    );
    let t = Instant::now();
    checkout(
        &spec,
        &checkout_dir,
        &EventSink::discard(),
        &CancelToken::new(),
    )
    .unwrap();
    let fetch = t.elapsed();

    // The build context, with a step that does some work.
    let context = work.path().join("context");
    std::fs::create_dir_all(&context).unwrap();
    std::fs::write(context.join("index.html"), "bench").unwrap();
    let dockerfile = |nonce: &str| {
        format!("FROM berth-test/busybox:latest\nARG NONCE_{nonce}\nCOPY index.html /www/index.html\n{WORK}")
    };
    let build_spec = |tag: &str| BuildSpec {
        registries: Default::default(),
        checkout: context.clone(),
        context: RelativePath::parse(".").unwrap(),
        dockerfile: RelativePath::parse("Dockerfile").unwrap(),
        build_args: Default::default(),
        secret_build_args: Default::default(),
        target: None,
        repository: "berth-bench/app".into(),
        tag: tag.into(),
        build_id: tag.into(),
        labels: Default::default(),
        temp_dir: work.path().to_path_buf(),
        journal: None,
        max_context_bytes: 1024 << 20,
        timeout: Duration::from_secs(600),
    };
    let (mut berth, mut cli) = (Vec::new(), Vec::new());
    for run in 0..runs {
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        std::fs::write(context.join("Dockerfile"), dockerfile(&nonce[..12])).unwrap();
        let t = Instant::now();
        engine
            .build(
                &build_spec(&format!("b{run}")),
                &EventSink::discard(),
                &CancelToken::new(),
            )
            .await
            .unwrap();
        berth.push(t.elapsed());
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        std::fs::write(context.join("Dockerfile"), dockerfile(&nonce[..12])).unwrap();
        let t = Instant::now();
        // The baseline berth is measured against: the docker CLI itself, run by this bench
        // with fixed arguments (never used by berth).
        let status = Command::new("docker")
            .args(["build", "-q", "-t", &format!("berth-bench/cli:c{run}"), "."])
            .current_dir(&context)
            .env("DOCKER_BUILDKIT", "0")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        cli.push(t.elapsed());
    }
    // A context berth built once, built again with no change: every step from the cache.
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    std::fs::write(context.join("Dockerfile"), dockerfile(&nonce[..12])).unwrap();
    engine
        .build(
            &build_spec("first"),
            &EventSink::discard(),
            &CancelToken::new(),
        )
        .await
        .unwrap();
    let t = Instant::now();
    engine
        .build(
            &build_spec("rebuild"),
            &EventSink::discard(),
            &CancelToken::new(),
        )
        .await
        .unwrap();
    let rebuild = t.elapsed();
    let ratio = median(berth.clone()).as_secs_f64() / median(cli.clone()).as_secs_f64();

    println!("| measure | value |");
    println!("|---|---|");
    println!(
        "| berth build, no cache (median of {runs}, ms) | {} |",
        ms(median(berth))
    );
    println!(
        "| docker build CLI, classic builder, no cache (median of {runs}, ms) | {} |",
        ms(median(cli))
    );
    println!("| ratio berth / docker build | {ratio:.3} |");
    println!("| rebuild with no change (ms) | {} |", ms(rebuild));
    println!("| clone, 1,000 commits (ms) | {} |", ms(clone));
    println!(
        "| incremental fetch of one more commit (ms) | {} |",
        ms(fetch)
    );

    // Clean up what the bench made.
    for prefix in ["berth-bench/app", "berth-bench/cli"] {
        let images = engine
            .docker()
            .list_images(None::<bollard::query_parameters::ListImagesOptions>)
            .await
            .unwrap();
        for image in images
            .into_iter()
            .filter(|i| i.repo_tags.iter().any(|t| t.starts_with(prefix)))
        {
            let options = bollard::query_parameters::RemoveImageOptions {
                force: true,
                ..Default::default()
            };
            let _ = engine
                .docker()
                .remove_image(&image.id, Some(options), None)
                .await;
        }
    }
}
