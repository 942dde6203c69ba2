"""The dashboard in a real browser (Debian's chromium, driven by Playwright) against a real
berth and the real engine: first-user setup, the projects page, a project created, the API's
field errors shown beside the field, applications added, a deployment that fails and one that
runs followed live to their end, stop, start, delete, signing out and in again. Every console message and failed request fails
the test (a Content-Security-Policy violation is one). Screenshots go to the directory given.

    python3 tests/browser/dashboard.py http://127.0.0.1:3000 OUT_DIR
"""

import sys
import time
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"


def main(base: str, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}"))
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.on(
            "response",
            lambda r: r.status >= 500 and problems.append(f"{r.status} from {r.url}"),
        )
        shot = lambda name: page.screenshot(path=str(out / f"{name}.png"), full_page=True)

        response = page.goto(base + "/")
        assert response is not None and response.ok, response
        csp = response.headers.get("content-security-policy", "")
        assert "script-src 'self'" in csp and "default-src 'none'" in csp, csp
        expect(page.get_by_role("heading", name="Sign in to berth")).to_be_visible()
        shot("01-sign-in")

        # First-user setup, with a password the API refuses first.
        page.get_by_role("button", name="New installation? Set it up").click()
        page.get_by_label("Username").fill("admin")
        page.get_by_label("Email").fill("admin@example.com")
        page.get_by_label("Password").fill("short")
        page.get_by_role("button", name="Create the admin account").click()
        expect(page.locator("#password-error")).to_contain_text("8 to 128 characters")
        shot("02-setup-field-error")
        page.get_by_label("Password").fill("correct horse battery staple")
        page.get_by_role("button", name="Create the admin account").click()
        expect(page.get_by_role("heading", name="Projects")).to_be_visible()
        expect(page.get_by_text("No projects yet")).to_be_visible()
        expect(page.get_by_text("super_admin")).to_be_visible()
        shot("03-projects-empty")

        # A project; then the API's refusals beside the name field.
        page.get_by_label("Name").fill("shop")
        page.get_by_label("Description (optional)").fill("the web shop")
        page.get_by_role("button", name="Create project").click()
        row = page.get_by_role("row", name="shop")
        expect(row).to_be_visible()
        expect(row).to_contain_text("the web shop")
        page.get_by_label("Name").fill("ab")
        page.get_by_role("button", name="Create project").click()
        expect(page.locator("#project-name-error")).to_contain_text("3 to 100 characters")
        shot("04-project-name-too-short")
        page.get_by_label("Name").fill("shop")
        page.get_by_role("button", name="Create project").click()
        expect(page.locator("#project-name-error")).to_be_visible()
        shot("05-project-name-taken")

        # Signed in across a reload (the tab keeps its session): the page asks who the token is
        # and lists the projects, one call for the list whatever its length, none per row.
        for n in range(2, 6):
            page.get_by_label("Name").fill(f"project {n}")
            page.get_by_role("button", name="Create project").click()
            expect(page.get_by_role("row", name=f"project {n}")).to_be_visible()
        calls: list[str] = []
        page.on("request", lambda r: "/api/" in r.url and calls.append(f"{r.method} {r.url}"))
        started = time.monotonic()
        page.reload()
        expect(page.get_by_role("row", name="shop")).to_be_visible()
        usable_ms = (time.monotonic() - started) * 1000
        # The live view of changes is opened once for the tab, not per page or row.
        streams = [c for c in calls if "/api/v1/events/stream" in c]
        calls = [c for c in calls if c not in streams]
        lists = [c for c in calls if "/api/v1/projects" in c]
        assert len(lists) == 1 and len(calls) == 2 and len(streams) <= 1, (calls, streams)
        print(f"browser: projects page usable {usable_ms:.0f} ms after a reload; API calls: {calls}")
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("heading", name="Sign in to berth")).to_be_visible()
        page.get_by_label("Username or email").fill("admin")
        page.get_by_label("Password").fill("wrong password")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("alert")).to_be_visible()
        shot("06-sign-in-refused")
        page.get_by_label("Password").fill("correct horse battery staple")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("row", name="shop")).to_be_visible()

        # The project's page: its applications, and one added from an image.
        page.get_by_role("link", name="shop").click()
        expect(page.get_by_role("heading", name="shop")).to_be_visible()
        expect(page.get_by_text("No applications yet")).to_be_visible()
        page.get_by_label("Name", exact=True).fill("Web!")
        page.get_by_label("Image", exact=True).fill("registry.example.com/team/web:1.2")
        page.get_by_role("button", name="Create application").click()
        expect(page.locator("#app-name-error")).to_contain_text("lowercase letters")
        page.get_by_label("Name", exact=True).fill("web")
        page.get_by_role("button", name="Create application").click()
        row = page.get_by_role("row", name="web")
        expect(row).to_contain_text("registry.example.com/team/web:1.2")
        expect(row).to_contain_text("stopped")
        page.get_by_label("A git repository").check()
        page.get_by_label("Name", exact=True).fill("api")
        page.get_by_label("Repository URL").fill("not a url")
        page.get_by_role("button", name="Create application").click()
        expect(page.locator("#app-repository-error")).to_be_visible()
        shot("07-project-with-an-application")
        page.reload()
        expect(page.get_by_role("row", name="web")).to_be_visible()

        # The application's page: deploy, and follow the log live to its end. The image is on
        # no engine here and berth pulls nothing it was not given, so the deployment fails,
        # and says why, in the log and in the list.
        page.get_by_role("link", name="web").click()
        expect(page.get_by_role("heading", name="web")).to_be_visible()
        expect(page.get_by_text("Not deployed yet")).to_be_visible()
        page.get_by_role("button", name="Deploy", exact=True).click()
        log = page.get_by_label("Deployment log")
        expect(log).not_to_be_empty(timeout=60_000)
        header = page.get_by_role("heading", name="Log")
        expect(header).to_contain_text("failed", timeout=60_000)
        expect(header).not_to_contain_text("live")
        expect(page.get_by_role("table", name="Deployments")).to_contain_text("failed")
        shot("08-a-deployment-followed-to-its-end")
        page.get_by_role("link", name="shop").click()
        expect(page.get_by_role("heading", name="shop")).to_be_visible()

        # One that runs: the local base image (scripts/base-image.sh) serving HTTP. Deployed,
        # followed to success, stopped, started, deleted, each operation followed live.
        page.get_by_label("An image").check()
        page.get_by_label("Name", exact=True).fill("hello")
        page.get_by_label("Image", exact=True).fill("berth-test/busybox:latest")
        page.get_by_label("Command (optional)").fill("httpd -f -p 8080")
        page.get_by_role("button", name="Create application").click()
        page.get_by_role("link", name="hello").click()
        expect(page.get_by_role("heading", name="hello")).to_be_visible()
        page.get_by_role("button", name="Deploy", exact=True).click()
        header = page.get_by_role("heading", name="Log")
        expect(header).to_contain_text("success", timeout=120_000)
        expect(page.locator("main > p > .status").first).to_have_text("running")
        shot("09-running")
        expect(page.get_by_role("link", name="shop")).to_be_visible()
        page.get_by_label("Replicas").fill("101")
        page.get_by_role("button", name="Scale").click()
        expect(page.get_by_role("alert")).to_contain_text("at most 100")
        page.get_by_label("Replicas").fill("2")
        page.get_by_role("button", name="Scale").click()
        expect(page.get_by_role("status")).to_contain_text("success", timeout=60_000)
        expect(page.locator("p.summary")).to_contain_text("2 replicas")
        page.get_by_role("button", name="Redeploy").click()
        deployments = page.get_by_role("table", name="Deployments")
        expect(deployments.get_by_text("redeploy")).to_be_visible(timeout=10_000)
        expect(page.get_by_role("heading", name="Log")).to_contain_text("success", timeout=120_000)
        page.get_by_role("button", name="Stop", exact=True).click()
        status = page.get_by_role("status")
        expect(status).to_contain_text("success", timeout=60_000)
        expect(page.locator("main > p > .status").first).to_have_text("stopped")
        page.get_by_role("button", name="Start", exact=True).click()
        expect(status).to_contain_text("start", timeout=60_000)
        expect(page.locator("main > p > .status").first).to_have_text("running", timeout=60_000)
        page.get_by_role("button", name="Delete…").click()
        shot("10-confirm-delete")
        page.get_by_role("button", name="Delete for good").click()
        expect(page.get_by_role("heading", name="shop")).to_be_visible(timeout=60_000)
        expect(page.get_by_role("row", name="hello")).to_have_count(0)
        page.go_back()
        page.go_back()
        page.go_back()
        page.goto(base + "/#/")
        expect(page.get_by_role("heading", name="Projects")).to_be_visible()

        # Users (admins): an account made after a refused password.
        page.get_by_role("link", name="Users").click()
        expect(page.get_by_role("heading", name="Users")).to_be_visible()
        page.get_by_label("Username").fill("dev1")
        page.get_by_label("Email").fill("dev1@example.com")
        page.get_by_label("Password").fill("short")
        page.get_by_role("button", name="Create the account").click()
        expect(page.locator("#user-password-error")).to_contain_text("8 to 128 characters")
        page.get_by_label("Password").fill("another long password")
        page.get_by_role("button", name="Create the account").click()
        expect(page.get_by_role("row", name="dev1")).to_contain_text("developer")

        # Teams: one founded (its founder its owner), a member added, their role changed, the
        # last owner kept (the API refuses to demote them, and the page says so), removed.
        page.get_by_role("link", name="Teams").click()
        page.get_by_label("Name", exact=True).fill("platform")
        page.get_by_role("button", name="Found the team").click()
        page.get_by_role("link", name="platform").click()
        expect(page.get_by_role("heading", name="platform")).to_be_visible()
        members = page.get_by_role("table", name="Members")
        expect(page.get_by_label("Role of admin")).to_have_value("owner")
        page.get_by_label("User", exact=True).select_option(label="dev1")
        page.get_by_label("Role", exact=True).select_option("member")
        page.get_by_role("button", name="Add").click()
        expect(members).to_contain_text("dev1")
        page.get_by_label("Role of dev1").select_option("viewer")
        expect(page.get_by_label("Role of dev1")).to_have_value("viewer")
        page.get_by_label("Role of admin").select_option("member")
        expect(page.get_by_role("alert")).to_contain_text("owner")
        expect(page.get_by_label("Role of admin")).to_have_value("owner")
        shot("11-team-members")
        page.get_by_role("button", name="Remove dev1").click()
        expect(members).not_to_contain_text("dev1")

        # API tokens: one made and shown once, then revoked.
        page.get_by_role("link", name="API tokens").click()
        expect(page.get_by_role("heading", name="API tokens")).to_be_visible()
        page.get_by_label("Name", exact=True).fill("ci")
        page.get_by_role("button", name="Make the token").click()
        expect(page.get_by_label("The new token's secret")).to_contain_text("berth_p_")
        expect(page.get_by_role("row", name="ci")).to_be_visible()
        shot("12-token-made")
        page.get_by_role("button", name="Revoke ci").click()
        expect(page.get_by_role("row", name="ci")).to_contain_text("revoked")
        expect(page.get_by_role("button", name="Revoke ci")).to_have_count(0)
        expect(page.get_by_label("The new token's secret")).to_have_count(0)

        # The audit log (an admin): what this test did, filtered by resource type.
        page.get_by_role("link", name="Audit log").click()
        expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
        entries = page.get_by_role("table", name="Audit entries")
        expect(entries).to_contain_text("project.create")
        page.get_by_label("Resource type").fill("application")
        page.get_by_role("button", name="Filter").click()
        expect(entries).not_to_contain_text("project.create")
        expect(entries).to_contain_text("application")
        # Who did it, by name.
        expect(entries.get_by_role("row").nth(1)).to_contain_text("admin")
        shot("13-audit-log")
        page.get_by_role("link", name="Projects").click()
        expect(page.get_by_role("heading", name="Projects")).to_be_visible()

        # A phone's width.
        page.set_viewport_size({"width": 390, "height": 844})
        shot("14-projects-phone")
        browser.close()
    # The API's refusals above are answers, not failures; the browser logs failed fetches
    # (4xx) to the console, so only other messages count.
    unexpected = [m for m in problems if "status of 4" not in m]
    assert not unexpected, "\n".join(unexpected)


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
    print("browser: the dashboard flow passed")
