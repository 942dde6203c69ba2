"""What the browser tests share: Debian's chromium launched through Playwright with every
console message, page error and 5xx answer collected (each fails the test), screenshots into
the test's directory, the first admin set up, and git repositories made on this machine for
berth to fetch (scripts/test-browser.sh allows the directory it gives as a local git root)."""

import subprocess
import sys
from pathlib import Path

from playwright.sync_api import Page, expect

CHROMIUM = "/usr/bin/chromium"
ADMIN_PASSWORD = "correct horse battery staple"


class Browser:
    """One chromium page, its problems, and its screenshots."""

    def __init__(self, playwright, out: Path):
        out.mkdir(parents=True, exist_ok=True)
        self.out = out
        self.problems: list[str] = []
        self.browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        self.page: Page = self.browser.new_page(viewport={"width": 1280, "height": 800})
        page = self.page
        page.on("console", lambda m: self.problems.append(f"console {m.type}: {m.text}"))
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on(
            "response",
            lambda r: r.status >= 500 and self.problems.append(f"{r.status} from {r.url}"),
        )

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, kind, value, tb) -> None:
        if kind is not None:
            # What the page showed when the test failed, beside the other screenshots.
            try:
                self.shot("failure")
                print(f"browser: failed; the page is in {self.out}/failure.png", file=sys.stderr)
            except Exception:  # noqa: BLE001 - the test's own error is the one to report
                pass
            self.browser.close()
            return
        self.close()

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(self.out / f"{name}.png"), full_page=True)

    def close(self) -> None:
        self.browser.close()
        # The API's refusals are answers, not failures; the browser logs failed fetches (4xx)
        # to the console, so only other messages count.
        unexpected = [m for m in self.problems if "status of 4" not in m]
        assert not unexpected, "\n".join(unexpected)


def set_up_admin(page: Page, base: str) -> None:
    """Opens berth and makes the first admin, who is then signed in."""
    page.goto(base + "/")
    page.get_by_role("button", name="New installation? Set it up").click()
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Email").fill("admin@example.com")
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Create the admin account").click()
    expect(page.get_by_role("heading", name="Projects")).to_be_visible()


def create_project(page: Page, name: str) -> None:
    """Makes a project from the projects page and opens it."""
    page.goto(page.url.split("#")[0] + "#/")
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Create project").click()
    page.get_by_role("link", name=name, exact=True).click()
    expect(page.get_by_role("heading", name=name)).to_be_visible()


def create_git_application(page: Page, name: str, repository: str, provider: str = "git") -> None:
    """Adds an application built from `repository` (branch main) and opens it."""
    page.get_by_label("A git repository").check()
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Git host").select_option(provider)
    page.get_by_label("Repository URL").fill(repository)
    page.get_by_label("Branch").fill("main")
    page.get_by_role("button", name="Create application").click()
    page.get_by_role("link", name=name, exact=True).click()
    expect(page.get_by_role("heading", name=name)).to_be_visible()


def git(repo: Path, *args: str) -> str:
    """Runs git in `repo` (the test's own fixture; berth itself fetches with libgit2)."""
    done = subprocess.run(
        ["git", "-C", str(repo), *args],
        check=True,
        capture_output=True,
        text=True,
        env={
            "GIT_AUTHOR_NAME": "test",
            "GIT_AUTHOR_EMAIL": "test@example.com",
            "GIT_COMMITTER_NAME": "test",
            "GIT_COMMITTER_EMAIL": "test@example.com",
            "HOME": str(repo),
        },
    )
    return done.stdout.strip()


def commit(repo: Path, files: dict[str, str], message: str) -> str:
    """Writes `files` into `repo` (made, on branch main, if new) and commits them; the sha."""
    if not (repo / ".git").exists():
        repo.mkdir(parents=True, exist_ok=True)
        git(repo, "init", "-q", "-b", "main")
    for name, text in files.items():
        (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")
