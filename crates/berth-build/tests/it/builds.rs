use berth_build::{checkout, BuildError, BuildEvent, EventSink, GitRef, SourceSpec};
use berth_domain::{BranchName, CommitSha, RelativePath};

use crate::repo::{checkout_dir, dockerfile, engine, run_output, Names, TestRepo};

fn branch(name: &str) -> GitRef {
    GitRef::Branch(BranchName::parse(name).unwrap())
}

fn source(repo: &TestRepo, reference: GitRef) -> SourceSpec {
    SourceSpec {
        repository: repo.url(),
        reference,
        credentials: None,
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
    let info = checkout(&source(&repo, branch("main")), &dir, &sink).unwrap();
    assert_eq!(
        (
            info.sha.as_str(),
            info.message.as_str(),
            info.author.as_str()
        ),
        (first.as_str(), "first version", "Test Author")
    );

    let built = engine
        .build(&names.spec(&dir, &info.sha), &sink)
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
    // Five Dockerfile steps, and the labels berth adds as a sixth.
    assert_eq!(steps.len(), 6, "{steps:?}");
    assert_eq!((steps[3].0, steps[3].1), (4, 6));
    assert!(steps[3].2.starts_with("RUN echo"), "{steps:?}");
    assert!(steps[5].2.starts_with("LABEL berth.commit="), "{steps:?}");
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
        checkout(&source(&repo, branch("main")), &dir, &sink)
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
            &sink
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
        checkout(&source(&repo, branch("feature/next")), &dir, &sink)
            .unwrap()
            .sha,
        next
    );
    let exact = GitRef::Commit(CommitSha::parse(&v2).unwrap());
    assert_eq!(
        checkout(&source(&repo, exact), &dir, &sink).unwrap().sha,
        v2
    );

    let built = engine.build(&names.spec(&dir, &v2), &sink).await.unwrap();
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
    let (_keep, dir) = checkout_dir();
    checkout(&source(&repo, branch("main")), &dir, &EventSink::discard()).unwrap();
    engine
        .build(&names.spec(&dir, &sha), &EventSink::discard())
        .await
        .unwrap();
}

#[tokio::test]
async fn secret_build_arguments_are_masked_in_the_output() {
    let engine = engine().await;
    let names = Names::new(&engine);
    let repo = TestRepo::new();
    let df = format!("{}ARG TOKEN\nRUN echo \"token is $TOKEN\"\n", dockerfile());
    let sha = repo.commit(&[("Dockerfile", &df), ("index.html", "x")], "c");
    let (_keep, dir) = checkout_dir();
    checkout(&source(&repo, branch("main")), &dir, &EventSink::discard()).unwrap();
    let mut spec = names.spec(&dir, &sha);
    spec.build_args
        .insert("TOKEN".into(), "s3cr3t-value".into());
    spec.secret_build_args.insert("TOKEN".into());
    let (sink, mut rx) = EventSink::channel(10_000);
    engine.build(&spec, &sink).await.unwrap();
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
    };
    assert!(
        matches!(
            checkout(&nowhere, &dir, &sink),
            Err(BuildError::Repository { .. })
        ),
        "a repository that does not exist"
    );

    let repo = TestRepo::new();
    let sha = repo.commit(&[("Dockerfile", &dockerfile()), ("index.html", "x")], "c");
    let (_keep2, dir) = checkout_dir();
    let e = checkout(&source(&repo, branch("nope")), &dir, &sink).unwrap_err();
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

    checkout(&source(&repo, branch("main")), &dir, &sink).unwrap();
    let mut spec = names.spec(&dir, &sha);
    spec.dockerfile = RelativePath::parse("docker/Dockerfile.prod").unwrap();
    assert!(matches!(
        engine.build(&spec, &sink).await,
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
            engine.build(&spec, &sink).await,
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
            "step 6/7 (RUN echo about to fail && false)",
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
        checkout(&source(&repo, branch("main")), &dir, &sink).unwrap();
        let (sink, mut rx) = EventSink::channel(10_000);
        let result = engine.build(&names.spec(&dir, &sha), &sink).await;
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
