"""A user's whole way through the dashboard, against the real binary, the real engine and Swarm,
with an application built from a git repository on this machine: set up, a project, the
application (its settings refused then saved, a variable and a secret, a volume), deployed with
its log followed live to the end, its replica running and printing, a domain, the webhook's
secret shown once, a service token, a second push deployed, a roll back to the first, stopped,
deleted with its volume. Screenshots of every tab.

    python3 tests/browser/flow.py http://127.0.0.1:3000 OUT_DIR GIT_ROOT
"""

import sys
import urllib.request
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from _common import Browser, commit, create_git_application, create_project, set_up_admin


def dockerfile(version: str) -> str:
    return (
        "FROM berth-test/busybox:latest\n"
        f"RUN mkdir -p /site && echo {version} > /site/index.html\n"
        f'CMD ["sh", "-c", "echo serving {version}; exec httpd -f -p 8080 -h /site"]\n'
    )


def main(base: str, out: Path, repos: Path) -> None:
    repo = repos / "web"
    first = commit(repo, {"Dockerfile": dockerfile("v1")}, "v1")
    with sync_playwright() as p, Browser(p, out) as b:
        page = b.page
        set_up_admin(page, base)
        create_project(page, "shop")
        create_git_application(page, "web", f"file://{repo}", provider="github")
        app_url = page.url

        # Settings: a port berth refuses, shown beside the field; then one it takes.
        page.get_by_role("link", name="Settings", exact=True).last.click()
        expect(page.get_by_role("heading", name="Settings")).to_be_visible()
        page.get_by_role("button", name="Add a port").click()
        page.get_by_label("Container port").fill("70000")
        page.get_by_role("button", name="Save settings").click()
        expect(page.locator("#port-0-container-error")).to_contain_text("65535")
        b.shot("01-settings-port-refused")
        page.get_by_label("Container port").fill("8080")
        # Ingress publishing needs the routing mesh, which this machine's kernel cannot run.
        page.get_by_label("Mode").select_option("host")
        page.get_by_label("Check each replica's health").check()
        page.get_by_label("HTTP path").fill("/")
        page.get_by_label("Port", exact=True).fill("8080")
        page.get_by_label("Memory (MiB)").fill("64")
        page.get_by_role("button", name="Save settings").click()
        expect(page.get_by_role("status")).to_contain_text("Saved")
        page.reload()
        expect(page.get_by_label("Container port")).to_have_value("8080")
        expect(page.get_by_label("Memory (MiB)")).to_have_value("64")

        # Environment: a plain variable and a secret, which is never shown again.
        page.get_by_role("link", name="Environment").click()
        page.get_by_label("Name", exact=True).fill("1BAD")
        page.get_by_role("button", name="Set", exact=True).click()
        expect(page.locator("#env-key-error")).to_be_visible()
        page.get_by_label("Name", exact=True).fill("GREETING")
        page.get_by_label("Value").fill("hello")
        page.get_by_role("button", name="Set", exact=True).click()
        variables = page.get_by_role("table", name="Environment variables")
        expect(variables.get_by_role("row", name="GREETING")).to_be_visible()
        page.get_by_label("Name", exact=True).fill("API_KEY")
        page.get_by_label("Secret: encrypted, never shown again").check()
        page.get_by_label("Value").fill("s3cret-value")
        page.get_by_role("button", name="Set", exact=True).click()
        expect(variables.get_by_role("row", name="API_KEY")).to_contain_text("write-only")
        expect(variables.get_by_role("row", name="GREETING")).to_contain_text("hello")
        expect(variables).not_to_contain_text("s3cret-value")
        b.shot("02-environment")

        # A volume.
        page.get_by_role("link", name="Volumes").click()
        page.get_by_label("Name", exact=True).fill("data")
        page.get_by_label("Mount path").fill("data")
        page.get_by_role("button", name="Add the volume").click()
        expect(page.locator("#volume-path-error")).to_be_visible()
        page.get_by_label("Mount path").fill("/data")
        page.get_by_role("button", name="Add the volume").click()
        expect(page.get_by_role("table", name="Volumes")).to_contain_text("berth-vol-")
        b.shot("03-volumes")

        # Deploy the first commit and follow its log to the end: cloned, built, rolled out.
        page.get_by_role("link", name="Overview").click()
        page.get_by_role("button", name="Deploy", exact=True).click()
        header = page.get_by_role("heading", name="Log")
        expect(header).to_contain_text("success", timeout=180_000)
        log = page.get_by_role("log", name="Deployment log")
        expect(log).to_contain_text("deployed: 1 of 1")
        deployments = page.get_by_role("table", name="Deployments")
        expect(deployments).to_contain_text(first[:8])
        steps = page.get_by_role("list", name="Steps")
        for step in ("clone", "build", "rollout", "verify"):
            expect(steps).to_contain_text(step)
        expect(steps).not_to_contain_text("failed")
        page.get_by_label("Search").fill("rolling out")
        expect(log).not_to_contain_text("deployed: 1 of 1")
        expect(log).to_contain_text("rolling out")
        page.get_by_label("Search").fill("")
        b.shot("04-deployed-from-git")

        # The replica runs and prints.
        page.get_by_role("link", name="Replicas and logs").click()
        expect(page.get_by_role("table", name="Replicas")).to_contain_text("running")
        expect(page.get_by_role("log", name="Runtime log")).to_contain_text("serving v1", timeout=30_000)
        # What it uses, as the engine measures it, under the limit its settings gave it.
        usage = page.get_by_role("table", name="Usage")
        expect(usage).to_contain_text("% of a core", timeout=30_000)
        expect(usage).to_contain_text("of 64 MiB")
        expect(page.get_by_role("img", name="Memory over time")).to_be_visible()
        b.shot("05-replicas-usage-and-log")

        # A domain; the same name again is refused beside the field.
        page.get_by_role("link", name="Domains").click()
        page.get_by_label("Domain", exact=True).fill("shop.example.test")
        page.get_by_role("button", name="Add the domain").click()
        domains = page.get_by_role("table", name="Domains")
        expect(domains).to_contain_text("shop.example.test")
        page.get_by_label("Domain", exact=True).fill("shop.example.test")
        page.get_by_role("button", name="Add the domain").click()
        expect(page.locator("#domain-host-error")).to_be_visible()
        page.get_by_role("button", name="Change shop.example.test").click()
        editor = page.get_by_role("region", name="Domain shop.example.test")
        editor.get_by_label("HSTS (browsers remember HTTPS for a year)").check()
        editor.get_by_role("button", name="Save routing").click()
        expect(domains).to_contain_text("HSTS")
        b.shot("06-domains")

        # The webhook: its secret shown the first time only; a new one on request.
        page.get_by_role("link", name="Webhook and tokens").click()
        expect(page.get_by_label("Webhook URL")).to_contain_text("/api/v1/webhooks/")
        expect(page.get_by_label("The webhook secret")).to_contain_text("berth_wh_")
        expect(page.get_by_text("GitHub: the repository's Settings")).to_be_visible()
        b.shot("07-webhook-secret-once")
        page.reload()
        expect(page.get_by_label("Webhook URL")).to_be_visible()
        expect(page.get_by_label("The webhook secret")).to_have_count(0)
        page.get_by_role("button", name="Make a new secret").click()
        expect(page.get_by_label("The webhook secret")).to_contain_text("berth_wh_")
        page.get_by_label("Name", exact=True).fill("actions")
        page.get_by_role("button", name="Make the token").click()
        expect(page.get_by_label("The new service token")).not_to_be_empty()
        expect(page.get_by_role("table", name="Service tokens")).to_contain_text("actions")
        b.shot("08-service-token")

        # A second push, deployed; then a roll back to the first commit.
        second = commit(repo, {"Dockerfile": dockerfile("v2")}, "v2")
        page.goto(app_url)
        page.get_by_role("button", name="Deploy", exact=True).click()
        expect(page.get_by_role("heading", name="Log")).to_contain_text("success", timeout=180_000)
        expect(deployments.get_by_role("row").nth(1)).to_contain_text(second[:8])
        page.get_by_role("link", name="Replicas and logs").click()
        expect(page.get_by_role("log", name="Runtime log")).to_contain_text("serving v2", timeout=60_000)
        page.get_by_role("link", name="Overview").click()
        first_row = deployments.get_by_role("row").filter(has_text=first[:8])
        first_row.get_by_role("button", name="Roll back to this").click()
        expect(deployments.get_by_role("row").nth(1)).to_contain_text("rollback")
        expect(page.get_by_role("heading", name="Log")).to_contain_text("success", timeout=120_000)
        expect(page.get_by_role("figure")).to_be_visible()
        b.shot("09-rolled-back")
        page.get_by_role("link", name="Replicas and logs").click()
        expect(page.get_by_role("log", name="Runtime log")).to_contain_text("serving v1", timeout=60_000)

        # Stopped from elsewhere (a script with the same account): the project's page, open
        # meanwhile, shows it as it happens, without being read again.
        page.get_by_role("link", name="shop").click()
        row = page.get_by_role("row", name="web")
        expect(row).to_contain_text("running")
        page.evaluate("window.stillTheSamePage = true")
        token = page.evaluate("sessionStorage.getItem('berth.session')")
        app_id = app_url.rsplit("/", 1)[-1]
        stop = urllib.request.Request(
            f"{base}/api/v1/applications/{app_id}/stop",
            method="POST",
            headers={"authorization": f"Bearer {token}"},
        )
        with urllib.request.urlopen(stop) as answer:
            assert answer.status == 202, answer.status
        expect(row).to_contain_text("stopped", timeout=60_000)
        assert page.evaluate("window.stillTheSamePage === true"), "the page was loaded again"
        b.shot("10-stopped-elsewhere-shown-live")

        # Deleted with its volume.
        row.get_by_role("link", name="web").click()
        expect(page.locator("p.summary .status")).to_have_text("stopped")
        page.get_by_role("button", name="Delete…").click()
        page.get_by_label("and its volumes with their data").check()
        b.shot("11-delete-with-volumes")
        page.get_by_role("button", name="Delete for good").click()
        expect(page.get_by_role("heading", name="shop")).to_be_visible(timeout=60_000)
        expect(page.get_by_role("row", name="web")).to_have_count(0)


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]))
    print("browser: the whole flow passed")
