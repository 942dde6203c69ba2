use berth_build::{checkout, BuildError, BuildEvent, CancelToken, EventSink, GitRef, SourceSpec};
use berth_domain::{BranchName, CommitSha, RelativePath};

use crate::repo::{checkout_dir, dockerfile, engine, run_output, Names, TestRepo};

fn branch(name: &str) -> GitRef {
    GitRef::Branch(BranchName::parse(name).unwrap())
}

/// Checks out the repository's `main` into a fresh directory.
fn fetch_main(repo: &TestRepo) -> (tempfile::TempDir, std::path::PathBuf) {
    let (keep, dir) = checkout_dir();
    checkout(
        &source(repo, branch("main")),
        &dir,
        &EventSink::discard(),
        &CancelToken::new(),
    )
    .unwrap();
    (keep, dir)
}

/// Builds a checkout with the test's names, expecting success.
async fn build(
    engine: &berth_build::Engine,
    names: &Names,
    dir: &std::path::Path,
    sha: &str,
) -> berth_build::BuiltImage {
    engine
        .build(
            &names.spec(dir, sha),
            &EventSink::discard(),
            &CancelToken::new(),
        )
        .await
        .unwrap()
}

fn source(repo: &TestRepo, reference: GitRef) -> SourceSpec {
    SourceSpec {
        repository: repo.url(),
        reference,
        credentials: None,
        submodules: false,
        local_roots: vec![std::env::temp_dir()],
        max_checkout_bytes: 2048 << 20,
    }
}

#[tokio::test]
async fn a_commit_becomes_an_image_that_knows_its_commit() {
    let engine = engine().await;
    let names = Names::new(&engine);
    let repo = TestRepo::new();
    let first = repo.commit(
        &[("Dockerfile", &dockerfile()), ("index.html", "<h1>v1</h1>")],
        "first version",
    );

    let (_keep, dir) = checkout_dir();
    let (sink, mut rx) = EventSink::channel(10_000);
    let info = checkout(
        &source(&repo, branch("main")),
        &dir,
        &sink,
        &CancelToken::new(),
    )
    .unwrap();
    assert_eq!(
        (
            info.sha.as_str(),
            info.message.as_str(),
            info.author.as_str()
        ),
        (first.as_str(), "first version", "Test Author")
    );

    let built = engine
        .build(&names.spec(&dir, &info.sha), &sink, &CancelToken::new())
        .await
        .unwrap();
    assert!(built.image_id.starts_with("sha256:"), "{built:?}");
    assert_eq!(
        names.tags().await,
        [
            format!("{}:{first}", names.repository),
            format!("{}:latest", names.repository)
        ]
    );
    assert_eq!(
        run_output(&engine, &format!("{}:latest", names.repository))
            .await
            .trim(),
        first
    );
    let labels = engine
        .docker()
        .inspect_image(&built.tags[0])
        .await
        .unwrap()
        .config
        .unwrap()
        .labels
        .unwrap();
    // The caller's labels, and no others of berth's (each label step costs a container).
    assert_eq!(
        labels.get("org.example.team").map(String::as_str),
        Some("platform")
    );
    assert!(
        !labels.keys().any(|k| k.starts_with("berth.")),
        "{labels:?}"
    );
    assert!(names.temp_is_empty(), "the context archive is gone");

    let mut steps = Vec::new();
    let mut checked_out = None;
    while let Ok(e) = rx.try_recv() {
        match e {
            BuildEvent::Step {
                number,
                total,
                text,
            } => steps.push((number, total, text)),
            BuildEvent::CheckedOut { sha, .. } => checked_out = Some(sha),
            _ => {}
        }
    }
    assert_eq!(checked_out.as_deref(), Some(first.as_str()));
    // Six Dockerfile steps, then one for the caller's label (berth adds none of its own:
    // the classic builder runs a container for each label step).
    assert_eq!(steps.len(), 7, "{steps:?}");
    assert_eq!((steps[4].0, steps[4].1), (5, 7));
    assert!(steps[4].2.starts_with("RUN echo"), "{steps:?}");
    assert!(steps[6].2.starts_with("LABEL "), "{steps:?}");
    assert_eq!(built.dropped_events, 0);
}

#[tokio::test]
async fn fetches_into_the_cached_checkout_and_follows_branches_tags_and_commits() {
    let engine = engine().await;
    let names = Names::new(&engine);
    let repo = TestRepo::new();
    let v1 = repo.commit(&[("Dockerfile", &dockerfile()), ("index.html", "v1")], "v1");
    repo.tag("v1.0");
    let v2 = repo.commit(&[("index.html", "v2"), ("extra.txt", "x")], "v2");
    repo.branch("feature/next");
    let next = repo.commit(&[("index.html", "next")], "next");

    let (_keep, dir) = checkout_dir();
    let sink = EventSink::discard();
    assert_eq!(
        checkout(
            &source(&repo, branch("main")),
            &dir,
            &sink,
            &CancelToken::new()
        )
        .unwrap()
        .sha,
        v2
    );
    assert!(dir.join("extra.txt").exists());
    // The same directory again: a fetch, not a clone; files of the other commit disappear.
    assert_eq!(
        checkout(
            &source(&repo, GitRef::Tag(BranchName::parse("v1.0").unwrap())),
            &dir,
            &sink,
            &CancelToken::new()
        )
        .unwrap()
        .sha,
        v1
    );
    assert!(!dir.join("extra.txt").exists());
    assert_eq!(
        std::fs::read_to_string(dir.join("index.html")).unwrap(),
        "v1"
    );
    assert_eq!(
        checkout(
            &source(&repo, branch("feature/next")),
            &dir,
            &sink,
            &CancelToken::new()
        )
        .unwrap()
        .sha,
        next
    );
    let exact = GitRef::Commit(CommitSha::parse(&v2).unwrap());
    assert_eq!(
        checkout(&source(&repo, exact), &dir, &sink, &CancelToken::new())
            .unwrap()
            .sha,
        v2
    );

    let built = engine
        .build(&names.spec(&dir, &v2), &sink, &CancelToken::new())
        .await
        .unwrap();
    assert_eq!(run_output(&engine, &built.tags[0]).await.trim(), v2);
}

#[tokio::test]
async fn dockerignore_keeps_files_out_of_the_context() {
    let engine = engine().await;
    let names = Names::new(&engine);
    let repo = TestRepo::new();
    let df = format!(
        "{}RUN test ! -e /www/secret.env && test -e /www/keep.txt\n",
        dockerfile().replace("COPY index.html /www/index.html", "COPY . /www/")
    );
    let sha = repo.commit(
        &[
            ("Dockerfile", &df),
            ("index.html", "x"),
            ("secret.env", "TOKEN=1"),
            ("keep.txt", "k"),
            (".dockerignore", "*.env\n"),
        ],
        "c",
    );
    let (_keep, dir) = fetch_main(&repo);
    build(&engine, &names, &dir, &sha).await;
}

#[tokio::test]
async fn secret_build_arguments_are_masked_in_the_output() {
    let engine = engine().await;
    let names = Names::new(&engine);
    let repo = TestRepo::new();
    let df = format!("{}ARG TOKEN\nRUN echo \"token is $TOKEN\"\n", dockerfile());
    let sha = repo.commit(&[("Dockerfile", &df), ("index.html", "x")], "c");
    let (_keep, dir) = fetch_main(&repo);
    let mut spec = names.spec(&dir, &sha);
    spec.build_args
        .insert("TOKEN".into(), "s3cr3t-value".into());
    spec.secret_build_args.insert("TOKEN".into());
    let (sink, mut rx) = EventSink::channel(10_000);
    engine
        .build(&spec, &sink, &CancelToken::new())
        .await
        .unwrap();
    let mut lines = Vec::new();
    while let Ok(e) = rx.try_recv() {
        if let BuildEvent::Line { text, .. } = e {
            lines.push(text);
        }
    }
    assert!(
        lines.iter().any(|l| l == "token is [redacted]"),
        "{lines:?}"
    );
    assert!(!lines.iter().any(|l| l.contains("s3cr3t-value")));
}

#[tokio::test]
async fn bad_sources_give_typed_errors_and_leave_nothing_behind() {
    let engine = engine().await;
    let names = Names::new(&engine);
    let sink = EventSink::discard();

    let (_keep, dir) = checkout_dir();
    let nowhere = SourceSpec {
        repository: berth_domain::RepositoryUrl::parse("file:///nonexistent/berth/repo").unwrap(),
        reference: branch("main"),
        credentials: None,
        submodules: false,
        local_roots: vec![std::env::temp_dir()],
        max_checkout_bytes: 2048 << 20,
    };
    assert!(
        matches!(
            checkout(&nowhere, &dir, &sink, &CancelToken::new()),
            Err(BuildError::Repository { .. })
        ),
        "a repository that does not exist"
    );

    let repo = TestRepo::new();
    let sha = repo.commit(&[("Dockerfile", &dockerfile()), ("index.html", "x")], "c");
    let (_keep2, dir) = checkout_dir();
    let e = checkout(
        &source(&repo, branch("nope")),
        &dir,
        &sink,
        &CancelToken::new(),
    )
    .unwrap_err();
    assert!(
        matches!(e, BuildError::MissingRef { what: "branch", .. }),
        "{e}"
    );
    let e = checkout(
        &source(
            &repo,
            GitRef::Commit(CommitSha::parse(&"0".repeat(40)).unwrap()),
        ),
        &dir,
        &sink,
        &CancelToken::new(),
    )
    .unwrap_err();
    assert!(
        matches!(e, BuildError::MissingRef { what: "commit", .. }),
        "{e}"
    );
    assert!(
        BranchName::parse("main; touch /tmp/pwned").is_err(),
        "a branch like that never reaches git"
    );
    assert!(!std::path::Path::new("/tmp/pwned").exists());

    checkout(
        &source(&repo, branch("main")),
        &dir,
        &sink,
        &CancelToken::new(),
    )
    .unwrap();
    let mut spec = names.spec(&dir, &sha);
    spec.dockerfile = RelativePath::parse("docker/Dockerfile.prod").unwrap();
    assert!(matches!(
        engine.build(&spec, &sink, &CancelToken::new()).await,
        Err(BuildError::MissingPath {
            what: "Dockerfile",
            ..
        })
    ));
    assert!(
        RelativePath::parse("../../etc/passwd").is_err(),
        "a path out of the checkout is refused by the domain"
    );
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("/etc/passwd", dir.join("Evil")).unwrap();
        spec.dockerfile = RelativePath::parse("Evil").unwrap();
        assert!(matches!(
            engine.build(&spec, &sink, &CancelToken::new()).await,
            Err(BuildError::PathEscapes { .. })
        ));
    }
    assert!(names.temp_is_empty());
    assert!(names.tags().await.is_empty(), "no image was made");
}

#[tokio::test]
async fn failing_builds_name_the_step_and_make_no_image() {
    let engine = engine().await;
    let names = Names::new(&engine);
    let sink = EventSink::discard();
    for (dockerfile_text, expect_step, expect_message) in [
        (
            format!("{}RUN echo about to fail && false\n", dockerfile()),
            "step 7/8 (RUN echo about to fail && false)",
            "returned a non-zero code: 1",
        ),
        (
            "FROM berth-test/busybox:latest\nRUNN nothing\n".to_owned(),
            "",
            "unknown instruction",
        ),
    ] {
        let repo = TestRepo::new();
        let sha = repo.commit(
            &[("Dockerfile", &dockerfile_text), ("index.html", "x")],
            "c",
        );
        let (_keep, dir) = checkout_dir();
        checkout(
            &source(&repo, branch("main")),
            &dir,
            &sink,
            &CancelToken::new(),
        )
        .unwrap();
        let (sink, mut rx) = EventSink::channel(10_000);
        let result = engine
            .build(&names.spec(&dir, &sha), &sink, &CancelToken::new())
            .await;
        let mut made = Vec::new();
        let mut cached = false;
        while let Ok(e) = rx.try_recv() {
            if let BuildEvent::Line { text, .. } = e {
                if text.trim() == "---> Using cache" {
                    cached = true;
                } else if let Some(id) = text.trim().strip_prefix("---> ").filter(|i| i.len() == 12)
                {
                    // A layer reused from the cache belongs to earlier builds and stays.
                    if !cached {
                        made.push(id.to_owned());
                    }
                    cached = false;
                }
            }
        }
        // The first id is the base image of FROM, which stays; the layers the build made go.
        for id in made.iter().skip(1) {
            assert!(
                engine.docker().inspect_image(id).await.is_err(),
                "the layer {id} of the failed build was removed"
            );
        }
        assert!(engine
            .docker()
            .inspect_image(crate::repo::BASE_IMAGE)
            .await
            .is_ok());
        match result {
            Err(BuildError::Failed { step, message }) => {
                assert!(step.contains(expect_step), "{step}");
                assert!(message.to_lowercase().contains(expect_message), "{message}");
            }
            other => panic!("expected a failed build, got {other:?}"),
        }
        assert!(names.temp_is_empty());
        assert!(names.tags().await.is_empty(), "no image was tagged");
    }
}

#[tokio::test]
async fn a_cancelled_build_stops_alone_and_a_slow_one_times_out() {
    let engine = engine().await;
    let names = Names::new(&engine);
    let marker = format!("sleep 3{}", rand_digit());
    let slow = format!("{}RUN {marker}\n", dockerfile());
    let repo = TestRepo::new();
    let sha = repo.commit(&[("Dockerfile", &slow), ("index.html", "x")], "slow");
    let (_keep, dir) = fetch_main(&repo);
    let other_names = Names::new(&engine);
    let other_repo = TestRepo::new();
    let other_sha = other_repo.commit(
        &[("Dockerfile", &dockerfile()), ("index.html", "y")],
        "other",
    );
    let (_keep2, other_dir) = checkout_dir();
    checkout(
        &source(&other_repo, branch("main")),
        &other_dir,
        &EventSink::discard(),
        &CancelToken::new(),
    )
    .unwrap();

    let cancel = CancelToken::new();
    let spec = names.spec(&dir, &sha);
    let (other_spec, other_sink, other_cancel) = (
        other_names.spec(&other_dir, &other_sha),
        EventSink::discard(),
        CancelToken::new(),
    );
    let started = std::time::Instant::now();
    let (cancelled, other) = tokio::join!(
        async {
            let (sink, mut rx) = EventSink::channel(10_000);
            let build = engine.build(&spec, &sink, &cancel);
            tokio::pin!(build);
            // Cancel once the slow step has begun.
            loop {
                tokio::select! {
                    r = &mut build => break r,
                    Some(e) = rx.recv() => if matches!(e, BuildEvent::Step { ref text, .. } if text.contains("sleep")) { cancel.cancel(); },
                }
            }
        },
        engine.build(&other_spec, &other_sink, &other_cancel),
    );
    assert!(
        matches!(cancelled, Err(BuildError::Cancelled)),
        "{cancelled:?}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(25),
        "cancelling did not wait for the step"
    );
    assert!(other.is_ok(), "the other build was not touched: {other:?}");
    assert!(names.tags().await.is_empty());
    assert!(names.temp_is_empty());
    // The engine stops the step's container once the build's connection is gone.
    assert!(
        wait_gone(&engine, &marker).await,
        "the build container of the cancelled build is gone"
    );

    let mut spec = names.spec(&dir, &sha);
    spec.timeout = std::time::Duration::from_secs(2);
    let (sink, mut rx) = EventSink::channel(10_000);
    let r = engine.build(&spec, &sink, &CancelToken::new()).await;
    assert!(
        matches!(r, Err(BuildError::TimedOut { after_s: 2 })),
        "{r:?}"
    );
    assert!(wait_gone(&engine, &marker).await);
    // The layers this build reported, and anything the engine committed on top of them after
    // the build was stopped, are gone; the base image stays.
    let seen = layer_ids(&mut rx);
    assert_layers_gone(&engine, &seen).await;
}

/// The ids of the layers a build reported (`---> <id>` lines).
fn layer_ids(rx: &mut tokio::sync::mpsc::Receiver<BuildEvent>) -> Vec<String> {
    let mut seen = Vec::new();
    while let Ok(e) = rx.try_recv() {
        if let BuildEvent::Line { text, .. } = e {
            if let Some(id) = text
                .trim()
                .strip_prefix("---> ")
                .filter(|i| i.len() == 12 && i.bytes().all(|b| b.is_ascii_hexdigit()))
            {
                seen.push(id.to_owned());
            }
        }
    }
    seen
}

/// None of `seen` but the base image is left, and nothing untagged sits on top of them.
async fn assert_layers_gone(engine: &berth_build::Engine, seen: &[String]) {
    let base = engine
        .docker()
        .inspect_image(crate::repo::BASE_IMAGE)
        .await
        .unwrap()
        .id
        .unwrap();
    use bollard::query_parameters::ListImagesOptions;
    let all = engine
        .docker()
        .list_images(Some(ListImagesOptions {
            all: true,
            ..Default::default()
        }))
        .await
        .unwrap();
    for image in &all {
        let id = image.id.trim_start_matches("sha256:");
        let parent = image.parent_id.trim_start_matches("sha256:");
        let ours = |x: &str| {
            seen.iter()
                .any(|s| !x.is_empty() && x.starts_with(s.as_str()) && !base.contains(x))
        };
        assert!(!ours(id), "the layer {id} of the stopped build is gone");
        assert!(
            !ours(parent) || image.repo_tags.iter().any(|t| t != "<none>:<none>"),
            "nothing was left on top of the stopped build: {id}"
        );
    }
}

/// A build whose process died halfway (its future dropped: no clean-up of its own ran, the
/// engine saw the connection close) leaves its journal; cleaning it removes what it made.
#[tokio::test]
async fn the_journal_of_a_build_that_died_removes_what_it_made() {
    let engine = engine().await;
    let names = Names::new(&engine);
    let marker = format!("sleep 4{}", rand_digit());
    let unique = uuid::Uuid::new_v4().simple().to_string();
    let dockerfile = format!(
        "{}RUN echo {unique} > /unique\nRUN {marker}\n",
        dockerfile()
    );
    let repo = TestRepo::new();
    let sha = repo.commit(&[("Dockerfile", &dockerfile), ("index.html", "x")], "dies");
    let (_keep, dir) = fetch_main(&repo);
    let journal_dir = tempfile::tempdir().unwrap();
    let journal = journal_dir.path().join("build-1");
    let mut spec = names.spec(&dir, &sha);
    spec.journal = Some(journal.clone());
    let (sink, mut rx) = EventSink::channel(10_000);
    let mut seen = Vec::new();
    let cancel = CancelToken::new();
    {
        let build = engine.build(&spec, &sink, &cancel);
        tokio::pin!(build);
        loop {
            tokio::select! {
                r = &mut build => panic!("the build ended before the slow step: {r:?}"),
                Some(e) = rx.recv() => match e {
                    BuildEvent::Step { text, .. } if text.contains(&marker) => break,
                    BuildEvent::Line { text, .. } => {
                        if let Some(id) = text.trim().strip_prefix("---> ").filter(|i| i.len() == 12) {
                            seen.push(id.to_owned());
                        }
                    }
                    _ => {}
                },
            }
        }
        // The step's container starts; then the process "dies" (the future is dropped).
        let _ = tokio::time::timeout(std::time::Duration::from_millis(800), &mut build).await;
    }
    seen.extend(layer_ids(&mut rx));
    assert!(!seen.is_empty(), "the build made layers before it died");
    let text = std::fs::read_to_string(&journal).expect("the journal outlives a dead build");
    assert!(text.contains("made "), "{text}");

    let removed = engine.clean_journal(&journal).await.unwrap();
    assert!(removed >= 1, "the unique layer was removed");
    assert!(!journal.exists(), "the journal is removed once cleaned");
    assert!(wait_gone(&engine, &marker).await);
    assert_layers_gone(&engine, &seen).await;
    assert!(names.tags().await.is_empty());

    // A build that ends in this process leaves no journal.
    let mut spec = names.spec(&dir, &sha);
    spec.journal = Some(journal.clone());
    spec.timeout = std::time::Duration::from_secs(2);
    let r = engine
        .build(&spec, &EventSink::discard(), &CancelToken::new())
        .await;
    assert!(matches!(r, Err(BuildError::TimedOut { .. })), "{r:?}");
    assert!(!journal.exists());
}

fn rand_digit() -> u32 {
    uuid::Uuid::new_v4().as_u128() as u32 % 10
}

/// Waits up to 20 s for every container whose command holds `marker` to be gone.
async fn wait_gone(engine: &berth_build::Engine, marker: &str) -> bool {
    use bollard::query_parameters::ListContainersOptions;
    for _ in 0..40 {
        let containers = engine
            .docker()
            .list_containers(Some(ListContainersOptions {
                all: true,
                ..Default::default()
            }))
            .await
            .unwrap();
        if !containers
            .iter()
            .any(|c| c.command.as_deref().unwrap_or_default().contains(marker))
        {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    false
}

#[tokio::test]
async fn prebuilt_images_must_exist_and_old_images_are_pruned() {
    let engine = engine().await;
    let names = Names::new(&engine);
    let present = berth_domain::ImageReference::parse(crate::repo::BASE_IMAGE).unwrap();
    assert!(engine
        .require_image(&present)
        .await
        .unwrap()
        .starts_with("sha256:"));
    let absent = berth_domain::ImageReference::parse("berth-test/never-built:1").unwrap();
    assert!(matches!(
        engine.require_image(&absent).await,
        Err(BuildError::MissingImage(_))
    ));

    let repo = TestRepo::new();
    let mut shas = Vec::new();
    for i in 0..4 {
        let sha = repo.commit(
            &[
                ("Dockerfile", &dockerfile()),
                ("index.html", &format!("v{i}")),
            ],
            &format!("v{i}"),
        );
        let (_keep, dir) = fetch_main(&repo);
        build(&engine, &names, &dir, &sha).await;
        shas.push(sha);
        // Image creation times have a one-second resolution.
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    }
    let removed = engine.prune(&names.repository, 2).await.unwrap();
    let mut removed_sorted = removed.clone();
    removed_sorted.sort();
    let mut expected = vec![
        format!("{}:{}", names.repository, shas[0]),
        format!("{}:{}", names.repository, shas[1]),
    ];
    expected.sort();
    assert_eq!(removed_sorted, expected, "the two oldest go");
    let tags = names.tags().await;
    assert!(
        tags.contains(&format!("{}:{}", names.repository, shas[3]))
            && tags.contains(&format!("{}:{}", names.repository, shas[2]))
    );
}

/// Two applications that build the same Dockerfile from the same base get the same image:
/// removing one's images (its deletion prunes them all) leaves the other's in place.
#[tokio::test]
async fn pruning_one_applications_images_leaves_an_identical_image_of_another() {
    let engine = engine().await;
    let (a, b) = (Names::new(&engine), Names::new(&engine));
    let repo = TestRepo::new();
    let sha = repo.commit(
        &[("Dockerfile", &dockerfile()), ("index.html", "same")],
        "same",
    );
    let (_keep, dir) = fetch_main(&repo);
    build(&engine, &a, &dir, &sha).await;
    build(&engine, &b, &dir, &sha).await;
    let id = |names: &Names| {
        let (engine, reference) = (engine.clone(), format!("{}:{sha}", names.repository));
        async move {
            engine
                .docker()
                .inspect_image(&reference)
                .await
                .ok()
                .and_then(|i| i.id)
        }
    };
    let shared = id(&b).await.unwrap();
    assert_eq!(
        id(&a).await.as_ref(),
        Some(&shared),
        "one image, two repositories"
    );
    let removed = engine.prune(&a.repository, 0).await.unwrap();
    assert_eq!(removed.len(), 2, "{removed:?}");
    assert!(
        a.tags().await.is_empty(),
        "the first application's tags went"
    );
    assert_eq!(
        id(&b).await,
        Some(shared),
        "the other's image is still there"
    );
    assert_eq!(b.tags().await.len(), 2);
}

#[tokio::test]
async fn submodules_are_checked_out_when_asked() {
    let engine = engine().await;
    let names = Names::new(&engine);
    let library = TestRepo::new();
    library.commit(&[("hello.txt", "from the submodule")], "library");
    let app = TestRepo::new();
    app.commit(
        &[
            (
                "Dockerfile",
                &format!(
                    "{}COPY lib/hello.txt /www/hello.txt\nCMD [\"cat\", \"/www/hello.txt\"]\n",
                    dockerfile()
                ),
            ),
            ("index.html", "x"),
        ],
        "app",
    );
    {
        let mut sub = app
            .repo
            .submodule(library.url().as_str(), std::path::Path::new("lib"), true)
            .unwrap();
        sub.clone(None).unwrap();
        sub.add_finalize().unwrap();
    }
    let sha = app.commit(&[], "add the library");

    let (_keep, dir) = checkout_dir();
    let mut spec = source(&app, branch("main"));
    checkout(&spec, &dir, &EventSink::discard(), &CancelToken::new()).unwrap();
    assert!(!dir.join("lib/hello.txt").exists(), "not without asking");
    spec.submodules = true;
    checkout(&spec, &dir, &EventSink::discard(), &CancelToken::new()).unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.join("lib/hello.txt")).unwrap(),
        "from the submodule"
    );
    let built = build(&engine, &names, &dir, &sha).await;
    assert_eq!(
        run_output(&engine, &built.tags[0]).await,
        "from the submodule"
    );
}

/// The private git server of `tests/support/git_http_server.py`, stopped when dropped.
struct GitServer {
    child: std::process::Child,
    port: u16,
}

impl GitServer {
    fn start(root: &std::path::Path, token: &str) -> Self {
        Self::start_with(root, token, &[])
    }

    /// The same server over HTTPS with this certificate and key.
    fn start_tls(
        root: &std::path::Path,
        token: &str,
        cert: &std::path::Path,
        key: &std::path::Path,
    ) -> Self {
        Self::start_with(
            root,
            token,
            &[cert.to_str().unwrap(), key.to_str().unwrap()],
        )
    }

    fn start_with(root: &std::path::Path, token: &str, tls: &[&str]) -> Self {
        use std::io::BufRead;
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/support/git_http_server.py"
        );
        let mut child = std::process::Command::new("python3")
            .args([script, root.to_str().unwrap(), token])
            .args(tls)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3 runs the test git server");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap()
            .parse()
            .unwrap();
        Self { child, port }
    }
}

impl Drop for GitServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn a_private_repository_over_http_takes_a_token_that_never_shows() {
    let repo = TestRepo::new();
    let sha = repo.commit(
        &[("Dockerfile", &dockerfile()), ("index.html", "private")],
        "private",
    );
    // Serve the repository's .git directory as /app.git.
    let root = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(repo.path().join(".git"), root.path().join("app.git")).unwrap();
    let server = GitServer::start(root.path(), "tok-3f9a-secret");
    let url =
        berth_domain::RepositoryUrl::parse(&format!("http://127.0.0.1:{}/app.git", server.port))
            .unwrap();
    let spec = |token: Option<&str>| SourceSpec {
        repository: url.clone(),
        reference: branch("main"),
        credentials: token.map(|t| berth_domain::GitCredentials::Token {
            token: berth_domain::SecretString::new(t),
        }),
        submodules: false,
        local_roots: vec![std::env::temp_dir()],
        max_checkout_bytes: 2048 << 20,
    };

    let (_keep, dir) = checkout_dir();
    let info = checkout(
        &spec(Some("tok-3f9a-secret")),
        &dir,
        &EventSink::discard(),
        &CancelToken::new(),
    )
    .unwrap();
    assert_eq!(info.sha, sha);
    assert_eq!(
        std::fs::read_to_string(dir.join("index.html")).unwrap(),
        "private"
    );
    let stored = git2::Repository::open(&dir)
        .unwrap()
        .find_remote("origin")
        .unwrap()
        .url()
        .unwrap()
        .to_owned();
    assert!(
        !stored.contains("tok-3f9a"),
        "the token is not in the stored URL: {stored}"
    );

    for wrong in [None, Some("wrong-token")] {
        let (_keep, dir) = checkout_dir();
        let e = checkout(
            &spec(wrong),
            &dir,
            &EventSink::discard(),
            &CancelToken::new(),
        )
        .unwrap_err();
        assert!(matches!(e, BuildError::Repository { .. }), "{e}");
        let shown = format!("{e} {e:?}");
        assert!(
            !shown.contains("tok-3f9a") && !shown.contains("wrong-token"),
            "{shown}"
        );
        assert!(shown.contains("credentials"), "the error says why: {shown}");
    }
}

#[tokio::test]
async fn network_sources_fetch_branches_shallow_and_deepen_for_an_old_commit() {
    let repo = TestRepo::new();
    let first = repo.commit(&[("Dockerfile", &dockerfile()), ("index.html", "1")], "one");
    repo.commit(&[("index.html", "2")], "two");
    let third = repo.commit(&[("index.html", "3")], "three");
    let root = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(repo.path().join(".git"), root.path().join("app.git")).unwrap();
    let server = GitServer::start(root.path(), "t0ken");
    let spec = |reference| SourceSpec {
        repository: berth_domain::RepositoryUrl::parse(&format!(
            "http://127.0.0.1:{}/app.git",
            server.port
        ))
        .unwrap(),
        reference,
        credentials: Some(berth_domain::GitCredentials::Token {
            token: berth_domain::SecretString::new("t0ken"),
        }),
        submodules: false,
        local_roots: vec![std::env::temp_dir()],
        max_checkout_bytes: 2048 << 20,
    };
    let (_keep, dir) = checkout_dir();
    assert_eq!(
        checkout(
            &spec(branch("main")),
            &dir,
            &EventSink::discard(),
            &CancelToken::new()
        )
        .unwrap()
        .sha,
        third
    );
    let local = git2::Repository::open(&dir).unwrap();
    assert!(local.is_shallow(), "only the tip was fetched");
    let old = GitRef::Commit(CommitSha::parse(&first).unwrap());
    assert_eq!(
        checkout(&spec(old), &dir, &EventSink::discard(), &CancelToken::new())
            .unwrap()
            .sha,
        first
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("index.html")).unwrap(),
        "1"
    );
}

/// An OpenSSH server on a loopback port (`scripts/test-sshd.sh` provides it), accepting the
/// given public keys. Run as root, it runs as the `postgres` system user and logs users in as
/// that user; otherwise as the current user. Stopped when dropped.
struct Sshd {
    child: std::process::Child,
    port: u16,
    user: String,
    dir: tempfile::TempDir,
}

fn ssh_keygen(path: &std::path::Path, kind: &str) -> (String, String) {
    let mut cmd = std::process::Command::new("ssh-keygen");
    cmd.args(["-q", "-N", "", "-t", kind, "-f", path.to_str().unwrap()]);
    if kind == "rsa" {
        cmd.args(["-b", "2048"]);
    }
    assert!(cmd.status().expect("ssh-keygen runs").success());
    let private = std::fs::read_to_string(path).unwrap();
    let public = std::fs::read_to_string(path.with_extension("pub")).unwrap();
    (private, public.trim().to_owned())
}

impl Sshd {
    fn start(authorized: &[&str]) -> Self {
        use std::io::BufRead;
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/test-sshd.sh");
        let out = std::process::Command::new(script)
            .output()
            .expect("scripts/test-sshd.sh runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = String::from_utf8(out.stdout).unwrap();
        let mut lines = out.lines();
        let (sshd, libs) = (
            lines.next().unwrap().to_owned(),
            lines.next().unwrap().to_owned(),
        );
        let dir = tempfile::tempdir().unwrap();
        let (_, _) = ssh_keygen(&dir.path().join("host_key"), "ed25519");
        std::fs::write(
            dir.path().join("authorized_keys"),
            authorized.join("\n") + "\n",
        )
        .unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let d = dir.path().display();
        std::fs::write(
            dir.path().join("sshd_config"),
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nAuthorizedKeysFile {d}/authorized_keys\n\
                 PidFile {d}/sshd.pid\nStrictModes no\nUsePAM no\nPasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\nPubkeyAuthentication yes\n"
            ),
        )
        .unwrap();
        let root = std::process::Command::new("id")
            .arg("-u")
            .output()
            .unwrap()
            .stdout
            == b"0\n";
        let user = if root {
            "postgres".to_owned()
        } else {
            std::env::var("USER").unwrap_or_else(|_| "root".into())
        };
        let mut cmd = if root {
            own_by(dir.path(), &user);
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", &user, "--", "env"]);
            c
        } else {
            std::process::Command::new("env")
        };
        cmd.arg(format!("LD_LIBRARY_PATH={libs}")).args([
            &sshd,
            "-D",
            "-e",
            "-f",
            &format!("{d}/sshd_config"),
        ]);
        // Its own process group, so that stopping it stops the sessions it forked too.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let mut child = cmd
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("sshd starts");
        let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        while err.read_line(&mut line).unwrap() > 0 && !line.contains("Server listening") {
            line.clear();
        }
        assert!(line.contains("Server listening"), "sshd did not start");
        std::thread::spawn(move || for _ in err.lines() {});
        Self {
            child,
            port,
            user,
            dir,
        }
    }

    fn host_key(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("host_key.pub"))
            .unwrap()
            .trim()
            .to_owned()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &group])
            .status();
        let _ = self.child.wait();
    }
}

/// Gives `path` (recursively) to `user`, so the unprivileged sshd and git can read it.
fn own_by(path: &std::path::Path, user: &str) {
    let status = std::process::Command::new("chown")
        .args(["-R", user, path.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn a_private_repository_over_ssh_takes_a_deploy_key_and_pins_the_host_key() {
    let keys = tempfile::tempdir().unwrap();
    let (ed_private, ed_public) = ssh_keygen(&keys.path().join("ed"), "ed25519");
    let (rsa_private, rsa_public) = ssh_keygen(&keys.path().join("rsa"), "rsa");
    let (stranger_private, _) = ssh_keygen(&keys.path().join("stranger"), "ed25519");
    let (_, other_host) = ssh_keygen(&keys.path().join("other_host"), "ed25519");
    let server = Sshd::start(&[&ed_public, &rsa_public]);

    let repo = TestRepo::new();
    let sha = repo.commit(
        &[("Dockerfile", &dockerfile()), ("index.html", "over ssh")],
        "ssh",
    );
    if server.user == "postgres" {
        own_by(repo.path(), "postgres");
    }
    let url = berth_domain::RepositoryUrl::parse(&format!(
        "ssh://{}@127.0.0.1:{}{}",
        server.user,
        server.port,
        repo.path().join(".git").display()
    ))
    .unwrap();
    let spec = |key: &str, known: Option<String>| SourceSpec {
        repository: url.clone(),
        reference: branch("main"),
        credentials: Some(berth_domain::GitCredentials::SshKey {
            ssh_key: berth_domain::SecretString::new(key),
            known_host: known,
        }),
        submodules: false,
        local_roots: vec![std::env::temp_dir()],
        max_checkout_bytes: 2048 << 20,
    };

    // First use: accepted, and the host key is handed back to be pinned.
    let (_keep, dir) = checkout_dir();
    let info = checkout(
        &spec(&ed_private, None),
        &dir,
        &EventSink::discard(),
        &CancelToken::new(),
    )
    .unwrap();
    assert_eq!(info.sha, sha);
    let seen = info.host_key.expect("the host key to pin");
    let host = server.host_key();
    let mut host_parts = host.split_whitespace();
    assert_eq!(
        seen,
        format!(
            "{} {}",
            host_parts.next().unwrap(),
            host_parts.next().unwrap()
        )
    );

    // Pinned: the same key passes, with an RSA deploy key too.
    let (_keep, dir) = checkout_dir();
    assert_eq!(
        checkout(
            &spec(&rsa_private, Some(server.host_key())),
            &dir,
            &EventSink::discard(),
            &CancelToken::new()
        )
        .unwrap()
        .sha,
        sha
    );

    // Another host key is refused, saying so, and no key material shows.
    let (_keep, dir) = checkout_dir();
    let e = checkout(
        &spec(&ed_private, Some(other_host)),
        &dir,
        &EventSink::discard(),
        &CancelToken::new(),
    )
    .unwrap_err();
    let shown = format!("{e} {e:?}");
    assert!(shown.contains("host key"), "{shown}");
    assert!(!shown.contains("PRIVATE KEY"), "{shown}");

    // A key the server does not know is a clear error.
    let (_keep, dir) = checkout_dir();
    let e = checkout(
        &spec(&stranger_private, None),
        &dir,
        &EventSink::discard(),
        &CancelToken::new(),
    )
    .unwrap_err();
    assert!(matches!(e, BuildError::Repository { .. }), "{e}");
    assert!(!format!("{e:?}").contains("PRIVATE KEY"));
}

/// A self-signed certificate for 127.0.0.1: (certificate, key) PEM paths.
fn self_signed(dir: &std::path::Path, name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let (cert, key) = (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}.key")),
    );
    let status = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
        ])
        .args([
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            key.to_str().unwrap(),
            "-out",
            cert.to_str().unwrap(),
        ])
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl makes the test certificate");
    assert!(status.success());
    (cert, key)
}

#[tokio::test]
async fn a_private_repository_over_https_verifies_the_server() {
    let certs = tempfile::tempdir().unwrap();
    let (trusted, trusted_key) = self_signed(certs.path(), "trusted");
    let (untrusted, untrusted_key) = self_signed(certs.path(), "untrusted");
    // The trust store of this test process: only the first certificate. (libgit2 reads it
    // through OpenSSL when it first needs TLS; each test runs in its own process.)
    std::env::set_var("SSL_CERT_FILE", &trusted);

    let repo = TestRepo::new();
    let sha = repo.commit(
        &[("Dockerfile", &dockerfile()), ("index.html", "tls")],
        "tls",
    );
    let root = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(repo.path().join(".git"), root.path().join("app.git")).unwrap();
    let good = GitServer::start_tls(root.path(), "tls-token", &trusted, &trusted_key);
    let bad = GitServer::start_tls(root.path(), "tls-token", &untrusted, &untrusted_key);
    let spec = |port: u16| SourceSpec {
        repository: berth_domain::RepositoryUrl::parse(&format!(
            "https://127.0.0.1:{port}/app.git"
        ))
        .unwrap(),
        reference: branch("main"),
        credentials: Some(berth_domain::GitCredentials::Token {
            token: berth_domain::SecretString::new("tls-token"),
        }),
        submodules: false,
        local_roots: vec![std::env::temp_dir()],
        max_checkout_bytes: 2048 << 20,
    };
    let (_keep, dir) = checkout_dir();
    assert_eq!(
        checkout(
            &spec(good.port),
            &dir,
            &EventSink::discard(),
            &CancelToken::new()
        )
        .unwrap()
        .sha,
        sha
    );
    let (_keep, dir) = checkout_dir();
    let e = checkout(
        &spec(bad.port),
        &dir,
        &EventSink::discard(),
        &CancelToken::new(),
    )
    .unwrap_err();
    assert!(matches!(e, BuildError::Repository { .. }), "{e}");
    assert!(
        e.to_string().to_lowercase().contains("certificate"),
        "an untrusted server is refused: {e}"
    );
    assert!(!format!("{e:?}").contains("tls-token"));
}

#[tokio::test]
async fn a_target_stage_is_built_alone() {
    let engine = engine().await;
    let names = Names::new(&engine);
    let repo = TestRepo::new();
    let df = format!(
        "FROM {base} AS first\nRUN echo first-stage > /stage\nCMD [\"cat\", \"/stage\"]\nFROM {base} AS second\nRUN echo second-stage > /stage\nCMD [\"cat\", \"/stage\"]\n",
        base = crate::repo::BASE_IMAGE
    );
    let sha = repo.commit(&[("Dockerfile", &df)], "stages");
    let (_keep, dir) = fetch_main(&repo);
    let mut spec = names.spec(&dir, &sha);
    spec.target = Some("first".into());
    let built = engine
        .build(&spec, &EventSink::discard(), &CancelToken::new())
        .await
        .unwrap();
    assert_eq!(
        run_output(&engine, &built.tags[0]).await.trim(),
        "first-stage"
    );
}

/// An image tag removed when the test ends, however it ends.
struct Tagged(berth_build::Engine, String);
impl Drop for Tagged {
    fn drop(&mut self) {
        let (docker, name) = (self.0.docker().clone(), self.1.clone());
        let _ = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async {
                    let _ = docker
                        .remove_image(
                            &name,
                            None::<bollard::query_parameters::RemoveImageOptions>,
                            None,
                        )
                        .await;
                })
        })
        .join();
    }
}

#[tokio::test]
async fn a_dockerfile_builds_only_from_images_an_application_may_run_and_never_pulls() {
    let engine = engine().await;
    let names = Names::new(&engine);
    // Another application's build, on this engine: berth/<its service>:latest.
    let victim = format!(
        "berth/victim-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    engine
        .docker()
        .tag_image(
            crate::repo::BASE_IMAGE,
            Some(bollard::query_parameters::TagImageOptions {
                repo: Some(victim.clone()),
                tag: Some("latest".into()),
            }),
        )
        .await
        .unwrap();
    let _victim = Tagged(engine.clone(), format!("{victim}:latest"));
    let base_id = engine
        .docker()
        .inspect_image(crate::repo::BASE_IMAGE)
        .await
        .unwrap()
        .id
        .unwrap();
    let hex = base_id.trim_start_matches("sha256:");
    for (text, says) in [
        (
            format!("FROM {victim}:latest\n"),
            "berth/ holds the images berth builds",
        ),
        (
            format!("FROM docker.io/{victim}\n"),
            "berth/ holds the images berth builds",
        ),
        (
            format!("ARG BASE={}\nFROM $BASE\n", crate::repo::BASE_IMAGE),
            "berth/ holds",
        ),
        (format!("FROM {base_id}\n"), "not by an image id"),
        (format!("FROM {}\n", &hex[..12]), "not by an image id"),
        (
            format!(
                "FROM {}\nCOPY --from={victim} /www /www\n",
                crate::repo::BASE_IMAGE
            ),
            "berth/ holds",
        ),
        (
            "FROM 127.0.0.1:1/nothing/here:1\n".to_owned(),
            "only when the installation lists it",
        ),
    ] {
        let repo = TestRepo::new();
        let sha = repo.commit(&[("Dockerfile", &text), ("index.html", "x")], "c");
        let (_keep, dir) = fetch_main(&repo);
        let mut spec = names.spec(&dir, &sha);
        // A build argument overriding the ARG default is what FROM sees.
        spec.build_args
            .insert("BASE".into(), format!("{victim}:latest"));
        let result = engine
            .build(&spec, &EventSink::discard(), &CancelToken::new())
            .await;
        match result {
            Err(BuildError::Dockerfile(message)) => {
                assert!(message.contains(says), "{text}: {message}")
            }
            other => panic!("{text}: expected the Dockerfile refused, got {other:?}"),
        }
        assert!(names.tags().await.is_empty(), "no image was made");
    }
    // A base the engine lacks is pulled from its registry; one the registry cannot give fails
    // the build with its words, and nothing is made.
    let repo = TestRepo::new();
    let sha = repo.commit(
        &[
            ("Dockerfile", "FROM registry.invalid/nothing/here:1\n"),
            ("index.html", "x"),
        ],
        "c",
    );
    let (_keep, dir) = fetch_main(&repo);
    let (sink, mut lines) = EventSink::channel(64);
    let result = engine
        .build(&names.spec(&dir, &sha), &sink, &CancelToken::new())
        .await;
    drop(sink);
    match result {
        Err(e @ BuildError::Pull { .. }) => assert!(
            e.to_string()
                .contains("registry.invalid/nothing/here:1 cannot be pulled"),
            "{e}"
        ),
        other => panic!("expected the pull to fail, got {other:?}"),
    }
    let mut told = Vec::new();
    while let Ok(e) = lines.try_recv() {
        told.push(format!("{e:?}"));
    }
    assert!(
        told.iter().any(
            |l| l.contains("pulling registry.invalid/nothing/here:1, which line 1 builds from")
        ),
        "{told:#?}"
    );
    assert!(names.tags().await.is_empty(), "no image was made");
    // The rule lets the application's own registry images through.
    let repo = TestRepo::new();
    let sha = repo.commit(&[("Dockerfile", &dockerfile()), ("index.html", "x")], "c");
    let (_keep, dir) = fetch_main(&repo);
    build(&engine, &names, &dir, &sha).await;
}

#[tokio::test]
async fn local_repositories_and_submodules_are_refused_and_credentials_stay_with_their_host() {
    let secret = TestRepo::new();
    secret.commit(&[("key.txt", "another tenant's checkout")], "secret");
    // A local repository, top or submodule, with no allowed root.
    let mut spec = source(&secret, branch("main"));
    spec.local_roots.clear();
    let (_keep, dir) = checkout_dir();
    match checkout(&spec, &dir, &EventSink::discard(), &CancelToken::new()) {
        Err(BuildError::Repository { message, .. }) => {
            assert!(message.contains("reached over the network"), "{message}")
        }
        other => panic!("a file:// repository was fetched: {other:?}"),
    }
    assert!(!dir.join("key.txt").exists());
    let plain = berth_domain::RepositoryUrl::parse(secret.path().to_str().unwrap()).unwrap();
    spec.repository = plain;
    assert!(checkout(&spec, &dir, &EventSink::discard(), &CancelToken::new()).is_err());

    // A network repository whose submodule is a path on the server, and another whose
    // submodule lives on another host: the first is refused, the second gets no token.
    // The other host serves the secret repository to anyone holding alice's token: were the
    // token handed to it, the submodule would be fetched.
    let other_root = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(
        secret.path().join(".git"),
        other_root.path().join("other.git"),
    )
    .unwrap();
    let other = GitServer::start(other_root.path(), "t0ken-of-alice");
    for (sub_url, says) in [
        (
            secret.url().to_string(),
            "reached over the network".to_owned(),
        ),
        (
            format!("http://127.0.0.1:{}/other.git", other.port),
            "asks for credentials; the repository's are for 127.0.0.1:".to_owned(),
        ),
    ] {
        let app = TestRepo::new();
        app.commit(&[("index.html", "x")], "app");
        {
            let mut sub = app
                .repo
                .submodule(secret.url().as_str(), std::path::Path::new("lib"), true)
                .unwrap();
            sub.clone(None).unwrap();
            sub.add_finalize().unwrap();
        }
        // The submodule as the attacker names it.
        let gitmodules = std::fs::read_to_string(app.path().join(".gitmodules"))
            .unwrap()
            .replace(secret.url().as_str(), &sub_url);
        app.commit(&[(".gitmodules", &gitmodules)], "add the library");
        let root = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(app.path().join(".git"), root.path().join("app.git")).unwrap();
        let server = GitServer::start(root.path(), "t0ken-of-alice");
        let spec = SourceSpec {
            repository: berth_domain::RepositoryUrl::parse(&format!(
                "http://127.0.0.1:{}/app.git",
                server.port
            ))
            .unwrap(),
            reference: branch("main"),
            credentials: Some(berth_domain::GitCredentials::Token {
                token: berth_domain::SecretString::new("t0ken-of-alice"),
            }),
            submodules: true,
            local_roots: Vec::new(),
            max_checkout_bytes: 2048 << 20,
        };
        let (_keep, dir) = checkout_dir();
        match checkout(&spec, &dir, &EventSink::discard(), &CancelToken::new()) {
            Err(BuildError::Repository { message, url }) => {
                assert!(url.contains("submodule lib"), "{url}");
                assert!(message.contains(&says), "{message}");
                assert!(!message.contains("t0ken"), "{message}");
            }
            other => panic!("{sub_url}: the submodule was fetched: {other:?}"),
        }
        assert!(!dir.join("lib/key.txt").exists());
    }
}

#[tokio::test]
async fn a_repository_or_context_over_its_limit_and_a_linked_dockerignore_are_refused() {
    let engine = engine().await;
    let names = Names::new(&engine);
    let repo = TestRepo::new();
    let big = "x".repeat(64 * 1024);
    let sha = repo.commit(
        &[
            ("Dockerfile", &dockerfile()),
            ("index.html", "x"),
            ("big.bin", &big),
        ],
        "big",
    );
    // The checkout: a commit whose files pass the limit is not checked out.
    let (_keep, dir) = checkout_dir();
    let mut small = source(&repo, branch("main"));
    small.max_checkout_bytes = 32 * 1024;
    let e = checkout(&small, &dir, &EventSink::discard(), &CancelToken::new()).unwrap_err();
    assert!(
        matches!(
            e,
            BuildError::TooLarge {
                setting: "build_max_checkout_mb",
                ..
            }
        ),
        "{e}"
    );
    assert!(!dir.join("big.bin").exists(), "nothing was checked out");

    // The context: the same commit, built with a smaller context limit.
    let (_keep, dir) = fetch_main(&repo);
    let mut spec = names.spec(&dir, &sha);
    spec.max_context_bytes = 32 * 1024;
    let e = engine
        .build(&spec, &EventSink::discard(), &CancelToken::new())
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            BuildError::TooLarge {
                setting: "build_max_context_mb",
                ..
            }
        ),
        "{e}"
    );
    assert!(names.temp_is_empty(), "no archive is left");

    // A .dockerignore that is a link (here to /dev/zero, which never ends) is not read.
    for target in ["/dev/zero", "/etc/passwd"] {
        let link = repo.path().join(".dockerignore");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(target, &link).unwrap();
        let sha = repo.commit(&[("index.html", target)], "linked ignore file");
        let (_keep, dir) = fetch_main(&repo);
        let e = engine
            .build(
                &names.spec(&dir, &sha),
                &EventSink::discard(),
                &CancelToken::new(),
            )
            .await
            .unwrap_err();
        assert!(
            e.to_string().contains(".dockerignore must be a plain file"),
            "{target}: {e}"
        );
    }
}
