//! Small git repositories made with git2, and the engine and names each test uses.

use std::path::{Path, PathBuf};

use berth_build::{BuildSpec, Engine};
use berth_domain::RelativePath;
use git2::{Repository, Signature};

pub const BASE_IMAGE: &str = "berth-test/busybox:latest";

pub struct TestRepo {
    pub dir: tempfile::TempDir,
    pub repo: Repository,
}

impl TestRepo {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        repo.set_head("refs/heads/main").unwrap();
        Self { dir, repo }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn url(&self) -> berth_domain::RepositoryUrl {
        berth_domain::RepositoryUrl::parse(&format!("file://{}", self.path().display())).unwrap()
    }

    /// Writes the files and commits them on the current branch; returns the commit id.
    pub fn commit(&self, files: &[(&str, &str)], message: &str) -> String {
        for (name, content) in files {
            let p = self.path().join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, content).unwrap();
        }
        let mut index = self.repo.index().unwrap();
        index
            .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
            .unwrap();
        index.write().unwrap();
        let tree = self.repo.find_tree(index.write_tree().unwrap()).unwrap();
        let sig = Signature::now("Test Author", "author@example.com").unwrap();
        let parent = self.repo.head().ok().and_then(|h| h.peel_to_commit().ok());
        let parents: Vec<&git2::Commit> = parent.iter().collect();
        self.repo
            .commit(Some("HEAD"), &sig, &sig, message, &tree, &parents)
            .unwrap()
            .to_string()
    }

    pub fn branch(&self, name: &str) {
        let head = self.repo.head().unwrap().peel_to_commit().unwrap();
        self.repo.branch(name, &head, true).unwrap();
        self.repo.set_head(&format!("refs/heads/{name}")).unwrap();
    }

    pub fn tag(&self, name: &str) {
        let head = self
            .repo
            .head()
            .unwrap()
            .peel(git2::ObjectType::Commit)
            .unwrap();
        self.repo.tag_lightweight(name, &head, true).unwrap();
    }
}

/// A Dockerfile that records the commit it was built from. Its second line is unique, so no
/// two tests share cached layers (tests run in parallel processes, and a failed build removes
/// the layers it made).
pub fn dockerfile() -> String {
    let unique = &uuid::Uuid::new_v4().simple().to_string()[..12];
    format!(
        "FROM {BASE_IMAGE}\nARG TEST_{unique}\nARG COMMIT=unknown\nCOPY index.html /www/index.html\nRUN echo \"$COMMIT\" > /www/commit\nCMD [\"cat\", \"/www/commit\"]\n"
    )
}

pub async fn engine() -> Engine {
    let engine = Engine::connect()
        .await
        .expect("the Docker engine must be running for these tests");
    assert!(
        engine.docker().inspect_image(BASE_IMAGE).await.is_ok(),
        "the base image {BASE_IMAGE} is missing: run `make base-image`"
    );
    engine
}

/// A unique image repository for one test, removed (with every tag) when dropped.
pub struct Names {
    pub repository: String,
    pub temp: tempfile::TempDir,
    engine: Engine,
}

impl Names {
    pub fn new(engine: &Engine) -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        Self {
            repository: format!("berth-test/app-{}", &id[..12]),
            temp: tempfile::tempdir().unwrap(),
            engine: engine.clone(),
        }
    }

    pub fn spec(&self, checkout: &Path, commit: &str) -> BuildSpec {
        BuildSpec {
            registries: Default::default(),
            checkout: checkout.to_path_buf(),
            context: RelativePath::parse(".").unwrap(),
            dockerfile: RelativePath::parse("Dockerfile").unwrap(),
            build_args: [("COMMIT".to_owned(), commit.to_owned())].into(),
            secret_build_args: Default::default(),
            target: None,
            repository: self.repository.clone(),
            tag: commit.to_owned(),
            build_id: "build-1".into(),
            labels: [("org.example.team".to_owned(), "platform".to_owned())].into(),
            temp_dir: self.temp.path().to_path_buf(),
            journal: None,
            max_context_bytes: 1024 << 20,
            timeout: std::time::Duration::from_secs(300),
        }
    }

    /// Nothing is left in the build's temporary directory.
    pub fn temp_is_empty(&self) -> bool {
        std::fs::read_dir(self.temp.path())
            .unwrap()
            .next()
            .is_none()
    }

    /// The tags of this test's repository that exist on the engine.
    pub async fn tags(&self) -> Vec<String> {
        use bollard::query_parameters::ListImagesOptions;
        let images = self
            .engine
            .docker()
            .list_images(Some(ListImagesOptions {
                all: false,
                ..Default::default()
            }))
            .await
            .unwrap();
        let mut tags: Vec<String> = images
            .into_iter()
            .flat_map(|i| i.repo_tags)
            .filter(|t| t.starts_with(&format!("{}:", self.repository)))
            .collect();
        tags.sort();
        tags
    }
}

impl Drop for Names {
    fn drop(&mut self) {
        let docker = self.engine.docker().clone();
        let repository = self.repository.clone();
        // Remove what the test built, even when it failed.
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                use bollard::query_parameters::{ListImagesOptions, RemoveImageOptions};
                let images = docker
                    .list_images(Some(ListImagesOptions::default()))
                    .await
                    .unwrap_or_default();
                // By tag, never by id: another test's image may be the same image.
                for tag in images.iter().flat_map(|i| &i.repo_tags) {
                    if tag.starts_with(&format!("{repository}:")) {
                        let _ = docker
                            .remove_image(
                                tag,
                                Some(RemoveImageOptions {
                                    force: true,
                                    ..Default::default()
                                }),
                                None,
                            )
                            .await;
                    }
                }
            });
        })
        .join()
        .ok();
    }
}

/// Runs the image's default command to completion and returns what it printed.
pub async fn run_output(engine: &Engine, image: &str) -> String {
    use bollard::models::ContainerCreateBody;
    use bollard::query_parameters::{
        CreateContainerOptions, LogsOptions, RemoveContainerOptions, WaitContainerOptions,
    };
    use futures_util::StreamExt;
    let docker = engine.docker();
    let name = format!(
        "berth-test-run-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    docker
        .create_container(
            Some(CreateContainerOptions {
                name: Some(name.clone()),
                ..Default::default()
            }),
            ContainerCreateBody {
                image: Some(image.to_owned()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    docker
        .start_container(
            &name,
            None::<bollard::query_parameters::StartContainerOptions>,
        )
        .await
        .unwrap();
    let mut wait = docker.wait_container(&name, None::<WaitContainerOptions>);
    while wait.next().await.is_some() {}
    let mut logs = docker.logs(
        &name,
        Some(LogsOptions {
            stdout: true,
            stderr: true,
            ..Default::default()
        }),
    );
    let mut out = String::new();
    while let Some(Ok(chunk)) = logs.next().await {
        out.push_str(&chunk.to_string());
    }
    docker
        .remove_container(
            &name,
            Some(RemoveContainerOptions {
                force: true,
                ..Default::default()
            }),
        )
        .await
        .unwrap();
    out
}

pub fn checkout_dir() -> (tempfile::TempDir, PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("checkout");
    (d, p)
}
