"""A deployment whose build prints 100,000 lines, followed live in the dashboard: every line
arrives, the page stays responsive (a search over all of them answers, the view scrolls to the
first line), and the page's JavaScript heap after it is printed for docs/benchmarks.md (goal
under 150 MiB). scripts/test-browser.sh lets a log keep that many lines.

    python3 tests/browser/big_log.py http://127.0.0.1:3000 OUT_DIR GIT_ROOT
"""

import sys
import time
import uuid
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from _common import Browser, commit, create_git_application, create_project, set_up_admin

LINES = 100_000


def main(base: str, out: Path, repos: Path) -> None:
    repo = repos / "chatty"
    # A step of its own each run, so the engine's build cache cannot answer it silently.
    dockerfile = (
        "FROM berth-test/busybox:latest\n"
        f"RUN echo {uuid.uuid4()} && seq 1 {LINES}\n"
        'CMD ["httpd", "-f", "-p", "8080"]\n'
    )
    commit(repo, {"Dockerfile": dockerfile}, "chatty")
    with sync_playwright() as p, Browser(p, out) as b:
        page = b.page
        set_up_admin(page, base)
        create_project(page, "noisy")
        create_git_application(page, "chatty", f"file://{repo}")
        page.get_by_role("button", name="Deploy", exact=True).click()
        started = time.monotonic()
        header = page.get_by_role("heading", name="Log")
        expect(header).to_contain_text("success", timeout=300_000)
        streamed_s = time.monotonic() - started
        counter = page.locator(".log-tools .hint")
        text = counter.inner_text()
        total = int(text.split()[0])
        assert total > LINES, f"{total} lines shown, fewer than the build printed"

        # Still responsive: a search over every line answers, and the view goes to the top.
        asked = time.monotonic()
        page.get_by_label("Search").fill("99999")
        expect(counter).to_contain_text(f"of {total} lines")
        searched_ms = (time.monotonic() - asked) * 1000
        log = page.get_by_role("log", name="Deployment log")
        expect(log).to_contain_text("[build] 99999")
        page.get_by_label("Search").fill("")
        log.evaluate("el => { el.scrollTop = 0; el.dispatchEvent(new Event('scroll')); }")
        expect(log).to_contain_text("[clone] fetching")
        rendered = log.locator(".line").count()
        assert rendered < 200, f"{rendered} lines in the document: the view is not windowed"
        b.shot("01-a-hundred-thousand-lines")

        cdp = page.context.new_cdp_session(page)
        cdp.send("HeapProfiler.collectGarbage")
        cdp.send("Performance.enable")
        metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
        heap_mib = metrics["JSHeapUsedSize"] / 2**20
        print(
            f"browser: {total} log lines followed live in {streamed_s:.1f} s (build included); "
            f"search over them {searched_ms:.0f} ms; JS heap after {heap_mib:.1f} MiB; "
            f"{rendered} lines in the document"
        )
        assert heap_mib < 150, f"the page's heap is {heap_mib:.0f} MiB after {total} lines"


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]))
    print("browser: a hundred thousand log lines passed")
