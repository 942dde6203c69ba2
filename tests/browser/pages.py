"""Each page's refusals, shown where the user looks, against the real binary: a project renamed
to a name taken and deleted while it still has an application, a volume name taken, a domain
berth refuses, a health check on no port, a deployment cancelled while it builds, a team
renamed and deleted, a team's registry refused, added (its password never shown again), refused
twice, its credentials removed and the registry removed, an account re-roled (what a developer then sees) and deleted, a password
changed after a wrong current one, the installation's ACME settings shown and its DNS-01
setting refused then saved, the retention schedule's timetable refused, saved and run now.

    python3 tests/browser/pages.py http://127.0.0.1:3000 OUT_DIR GIT_ROOT
"""

import sys
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from _common import ADMIN_PASSWORD, Browser, commit, create_git_application, create_project, set_up_admin


def main(base: str, out: Path, repos: Path) -> None:
    slow = repos / "slow"
    commit(slow, {"Dockerfile": "FROM berth-test/busybox:latest\nRUN sleep 120\n"}, "slow")
    with sync_playwright() as p, Browser(p, out) as b:
        page = b.page
        set_up_admin(page, base)
        create_project(page, "taken")
        create_project(page, "shop")

        # Project settings: a name another project has; deletion refused while it has an
        # application (said in a banner), then done.
        page.get_by_label("Project name").fill("taken")
        page.get_by_role("button", name="Save", exact=True).click()
        expect(page.locator("#project-rename-error")).to_be_visible()
        b.shot("01-project-rename-taken")
        create_git_application(page, "slow", f"file://{slow}")
        app_url = page.url

        # A volume name the application has already.
        page.get_by_role("link", name="Volumes").click()
        volumes = page.get_by_role("table", name="Volumes")
        for _ in range(2):
            page.get_by_label("Name", exact=True).fill("data")
            page.get_by_label("Mount path").fill("/data")
            page.get_by_role("button", name="Add the volume").click()
            expect(volumes.get_by_role("row", name="data")).to_be_visible()
        expect(page.locator("#volume-name-error")).to_contain_text("already")
        expect(page.get_by_role("table", name="Volumes").get_by_role("row")).to_have_count(2)
        b.shot("02-volume-name-taken")
        page.get_by_role("button", name="Delete data…").click()
        page.get_by_role("button", name="Delete data and its data").click()
        expect(page.get_by_text("No volumes")).to_be_visible()

        # A domain berth will not serve, and a route to a port that is none.
        page.get_by_role("link", name="Domains").click()
        page.get_by_label("Domain", exact=True).fill("not a host")
        page.get_by_role("button", name="Add the domain").click()
        expect(page.locator("#domain-host-error")).to_be_visible()
        page.get_by_label("Domain", exact=True).fill("slow.example.test")
        page.get_by_label("Container port").fill("0")
        page.get_by_role("button", name="Add the domain").click()
        expect(page.locator("#domain-new-port-error")).to_be_visible()
        b.shot("03-domain-refused")

        # A health check on no port: refused beside the port.
        page.get_by_role("link", name="Settings", exact=True).last.click()
        page.get_by_label("Check each replica's health").check()
        page.get_by_label("HTTP path").fill("/health")
        page.get_by_role("button", name="Save settings").click()
        expect(page.locator("#hc-port-error")).to_contain_text("must be a port from 1 to 65535")
        b.shot("04-health-check-refused")

        # A deployment cancelled while its build runs.
        page.goto(app_url)
        page.get_by_role("button", name="Deploy", exact=True).click()
        deployments = page.get_by_role("table", name="Deployments")
        expect(page.get_by_role("log", name="Deployment log")).to_contain_text("sleep 120", timeout=60_000)
        deployments.get_by_role("button", name="Cancel").click()
        expect(page.get_by_role("heading", name="Log")).to_contain_text("cancelled", timeout=60_000)
        expect(deployments).to_contain_text("cancelled")
        # Nothing ran before and nothing failed: the application is stopped, not failed.
        expect(page.locator("p.summary .status")).to_have_text("stopped")
        b.shot("05-deployment-cancelled")

        # The project cannot go while it has an application.
        page.get_by_role("link", name="shop").click()
        page.get_by_label("Type shop to delete the project").fill("shop")
        page.get_by_role("button", name="Delete the project").click()
        expect(page.get_by_role("alert").first).to_contain_text("application")
        b.shot("06-project-delete-refused")

        # Teams: renamed to a name taken, then deleted.
        page.get_by_role("link", name="Teams").click()
        for name in ("platform", "web"):
            page.get_by_label("Name", exact=True).fill(name)
            page.get_by_role("button", name="Found the team").click()
        page.get_by_role("link", name="web", exact=True).click()
        page.get_by_label("Team name").fill("platform")
        page.get_by_role("button", name="Save", exact=True).click()
        expect(page.locator("#team-rename-error")).to_be_visible()
        b.shot("07-team-rename-taken")
        page.get_by_role("button", name="Delete the team…").click()
        page.get_by_role("button", name="Delete web").click()
        expect(page.get_by_role("heading", name="Teams")).to_be_visible()
        expect(page.get_by_role("link", name="web", exact=True)).to_have_count(0)

        # Registries: a host berth refuses beside its field; a team's registry with a password
        # never shown again; the same one twice refused; its credentials removed; then gone.
        page.get_by_role("link", name="Registries").click()
        expect(page.get_by_text("No registries yet")).to_be_visible()
        page.locator("#registry-host").fill("https://ghcr.io")
        page.locator("#registry-owner").select_option(label="The team platform")
        page.locator("#registry-user").fill("shop-bot")
        page.locator("#registry-password").fill("registry-token-1")
        page.get_by_role("button", name="Add the registry").click()
        expect(page.locator("#registry-host-error")).to_be_visible()
        page.locator("#registry-host").fill("ghcr.io")
        page.locator("#registry-password").fill("registry-token-1")
        page.get_by_role("button", name="Add the registry").click()
        registries = page.get_by_role("table", name="Registries")
        expect(registries.get_by_role("row", name="ghcr.io")).to_contain_text("shop-bot")
        expect(registries.get_by_role("row", name="ghcr.io")).to_contain_text("the team platform")
        expect(page.locator("body")).not_to_contain_text("registry-token-1")
        page.locator("#registry-host").fill("ghcr.io")
        page.locator("#registry-owner").select_option(label="The team platform")
        page.get_by_role("button", name="Add the registry").click()
        expect(page.get_by_role("alert").first).to_contain_text("has this registry already")
        b.shot("10-registries")
        page.get_by_role("button", name="Change the credentials of ghcr.io for platform").click()
        page.locator("#registry-new-user").fill("")
        page.get_by_role("button", name="Save", exact=True).click()
        expect(registries.get_by_role("row", name="ghcr.io")).to_contain_text("anonymous")
        page.get_by_role("button", name="Remove ghcr.io for platform").click()
        expect(page.get_by_text("No registries yet")).to_be_visible()

        # Users: made, re-roled to viewer, deleted.
        page.get_by_role("link", name="Users").click()
        page.get_by_label("Username").fill("dev1")
        page.get_by_label("Email").fill("dev1@example.com")
        page.get_by_label("Password").fill("another long password")
        page.get_by_role("button", name="Create the account").click()
        page.get_by_label("Role of dev1").select_option("viewer")
        expect(page.get_by_label("Role of dev1")).to_have_value("viewer")
        page.reload()
        expect(page.get_by_label("Role of dev1")).to_have_value("viewer")
        page.get_by_role("button", name="Delete dev1…").click()
        page.get_by_role("button", name="Delete dev1").click()
        expect(page.get_by_role("row", name="dev1")).to_have_count(0)

        # The installation's DNS-01 setting: an address berth cannot use, then one it takes.
        page.get_by_role("link", name="Settings", exact=True).first.click()
        expect(page.get_by_role("heading", name="Installation settings")).to_be_visible()
        # How certificates are ordered: the server's own settings, shown, not changed here.
        acme = page.get_by_role("region", name="Certificates (ACME)")
        expect(acme).to_contain_text("acme-v02.api.letsencrypt.org")
        expect(acme).to_contain_text("they change there, not here")
        page.get_by_label("DNS server").fill("not an address")
        page.get_by_label("Zone").fill("example.test")
        page.get_by_label("TSIG key name").fill("berth-key")
        page.get_by_label("TSIG key secret").fill("c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=")
        page.get_by_role("button", name="Save", exact=True).click()
        expect(page.locator("#dns-server-error")).to_be_visible()
        page.get_by_label("DNS server").fill("127.0.0.1:5353")
        page.get_by_role("button", name="Save", exact=True).click()
        expect(page.get_by_text("Answers go to")).to_contain_text("127.0.0.1:5353")
        expect(page.get_by_label("TSIG key secret")).to_have_value("")
        # Scheduled jobs: a timetable that runs backwards refused beside it, one saved, and a
        # run asked for now, shown with its outcome.
        jobs = page.get_by_role("table", name="Scheduled jobs")
        expect(jobs.get_by_role("row", name="retention")).to_be_visible()
        page.locator("#schedule-retention").fill("0 5-1 * * *")
        page.get_by_role("button", name="Save when retention runs").click()
        expect(page.locator("#schedule-cron-error")).to_contain_text("backwards")
        page.locator("#schedule-retention").fill("0 3 * * *")
        page.get_by_role("button", name="Save when retention runs").click()
        expect(page.locator("#schedule-cron-error")).to_have_count(0)
        page.get_by_role("button", name="Run retention now").click()
        expect(jobs.get_by_role("row", name="retention")).to_contain_text("pruned", timeout=30_000)
        page.reload()
        expect(page.locator("#schedule-retention")).to_have_value("0 3 * * *")
        b.shot("08-installation-settings")

        # The password: a wrong current one refused beside its field; then changed, and it signs in.
        page.get_by_role("link", name="admin").click()
        expect(page.get_by_role("heading", name="Your account")).to_be_visible()
        page.get_by_label("Current password").fill("not my password")
        page.get_by_label("New password").fill("a brand new passphrase")
        page.get_by_role("button", name="Change the password").click()
        expect(page.locator("#current-password-error")).to_be_visible()
        b.shot("09-password-refused")
        page.get_by_label("Current password").fill(ADMIN_PASSWORD)
        page.get_by_role("button", name="Change the password").click()
        expect(page.get_by_role("status")).to_contain_text("Changed")
        page.get_by_role("button", name="Sign out").click()
        page.get_by_label("Username or email").fill("admin")
        page.get_by_label("Password").fill("a brand new passphrase")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Your account")).to_be_visible()


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]))
    print("browser: every page's refusals passed")
