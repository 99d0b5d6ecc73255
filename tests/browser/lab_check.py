"""What a person sees in JupyterLab: start Lab on a free local port with the llmspell
kernelspecs of this venv, open a notebook on "llmspell (Lua)" in headless Chromium, run one cell
per case and check the rendered page (a table's cells, an SVG picture, a traceback, an
interrupt), never a collapsed JSON tree. Screenshots go to the artifacts folder.

    .venv/bin/python tests/browser/lab_check.py [--artifacts DIR] [--chromium PATH] [-k NAME]

Run by scripts/browser_test.sh (which installs JupyterLab, Playwright and Chromium when missing).
To add a case, append a `Case` to CASES: its cell source and a check of the rendered cell.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Locator, Page, expect, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
KERNEL = {"name": "llmspell", "display_name": "llmspell (Lua)", "language": "lua"}
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# A busy CI machine: the first cell also waits for the kernel to start. Once a cell has run,
# its output is drawn at once, so checks of what it shows wait less.
WAIT_MS = 90_000
CHECK_MS = 15_000

Check = Callable[[Page, Locator], None]  # (the page, the notebook cell) -> raises if wrong


@dataclass(frozen=True)
class Case:
    """One notebook cell: its source, what to do while it runs (e.g. interrupt), and a check of
    what the cell shows once it has run. Every case is also checked for a JSON tree."""

    name: str
    source: str
    check: Check
    while_running: Check | None = None


# --- checks -------------------------------------------------------------------------------------


def output_of(cell: Locator) -> Locator:
    # the cell's own output area (an Output widget in it has a .jp-OutputArea of its own)
    return cell.locator(".jp-Cell-outputArea")


def shows_table(*cells: str) -> Check:
    """A rendered HTML <table> with these cell texts."""

    def check(page: Page, cell: Locator) -> None:
        table = output_of(cell).locator("table").first
        expect(table).to_be_visible(timeout=CHECK_MS)
        for text in cells:
            expect(table.locator("td", has_text=text).first).to_be_visible()

    return check


def shows_svg(selector: str = "svg") -> Check:
    """An inline <svg> element (inside HTML output) with a visible size."""

    def check(page: Page, cell: Locator) -> None:
        svg = output_of(cell).locator(selector).first
        expect(svg).to_be_visible(timeout=CHECK_MS)
        box = svg.bounding_box()
        assert box and box["width"] > 10 and box["height"] > 10, f"svg box {box}"

    return check


def shows_svg_image(page: Page, cell: Locator) -> None:
    """An image/svg+xml output: Lab draws it as an <img> of the SVG in .jp-RenderedSVG."""
    picture = output_of(cell).locator(".jp-RenderedSVG img, .jp-RenderedSVG svg").first
    expect(picture).to_be_visible(timeout=CHECK_MS)
    box = picture.bounding_box()
    assert box and box["width"] > 10 and box["height"] > 10, f"picture box {box}"


def shows_text(*parts: str) -> Check:
    """All of these texts in the cell's output (plain text, a traceback...)."""

    def check(page: Page, cell: Locator) -> None:
        out = output_of(cell)
        for part in parts:
            expect(out).to_contain_text(part, timeout=CHECK_MS)

    return check


def all_of(*checks: Check) -> Check:
    def check(page: Page, cell: Locator) -> None:
        for each in checks:
            each(page, cell)

    return check


def press_interrupt_once_running(marker: str) -> Check:
    """Wait for `marker` in the output (the cell runs), then press the toolbar's stop button."""

    def act(page: Page, cell: Locator) -> None:
        expect(output_of(cell)).to_contain_text(marker, timeout=WAIT_MS)
        button = page.locator(
            ".jp-NotebookPanel-toolbar [data-command='notebook:interrupt-kernel']"
        ).first
        button.click()

    return act


def no_json_tree(page: Page, cell: Locator) -> None:
    out = output_of(cell)
    assert out.locator(".jp-RenderedJSON").count() == 0, "a JSON tree is shown"
    # the tree's header, "root [] 2 items", also when drawn by a renderer without that class
    header = re.search(r"\broot\s*(\[\]|\{\})\s*\d+ items?", out.inner_text())
    assert header is None, f"a JSON tree is shown: {header.group(0)!r}"


def moves_slider_then_shows(text: str) -> Check:
    """Move the cell's slider one step right with the keyboard (as a person would), then wait
    for `text`: the kernel's on_change callback wrote it into a widget."""

    def check(page: Page, cell: Locator) -> None:
        handle = output_of(cell).locator(".widget-slider .noUi-handle").first
        expect(handle).to_be_visible(timeout=CHECK_MS)
        handle.focus()
        page.keyboard.press("ArrowRight")
        expect(output_of(cell)).to_contain_text(text, timeout=CHECK_MS)

    return check


def clicks_then_shows(button: str, *texts: str) -> Check:
    """Click the button labelled `button` once per text, waiting for each in turn."""

    def check(page: Page, cell: Locator) -> None:
        target = output_of(cell).locator("button", has_text=button).first
        expect(target).to_be_visible(timeout=CHECK_MS)
        for text in texts:
            target.click()
            expect(output_of(cell)).to_contain_text(text, timeout=CHECK_MS)

    return check


# --- the cases ----------------------------------------------------------------------------------

SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="160" height="50"><rect width="160" '
SVG += 'height="50" fill="#4a90d9"/><text x="10" y="30" fill="white">llmspell</text></svg>'

CASES: list[Case] = [
    Case(
        "table",
        '{{city = "Oslo", people = 709000}, {city = "Lima", people = 9750000}}',
        shows_table("Oslo", "Lima", "709000"),
    ),
    Case("lua array", "{10, 20, 30}", shows_text("{10, 20, 30}")),
    Case("Tool.list", "Tool.list()", shows_table("calculator")),
    Case(
        "graph picture",
        'local a = Memory.semantic.add_entity{name = "Ada", type = "person"}\n'
        'local b = Memory.semantic.add_entity{name = "Babbage", type = "person"}\n'
        'Memory.semantic.add_relationship{from = a, to = b, type = "knows"}\n'
        "Memory.semantic.neighbors(a, {depth = 1})",
        all_of(shows_svg("svg"), shows_table("Babbage")),
    ),
    Case(
        "svg artifact",
        'local s = Session.create{name = "pictures"}\n'
        f'local id = Artifact.store(s, "system_generated", "logo.svg", [[{SVG}]],\n'
        '  {mime_type = "image/svg+xml"})\n'
        "Artifact.get(s, id)",
        shows_svg_image,
    ),
    Case(
        "workflow timeline",
        'Workflow.sequential{name = "pipe", steps = {\n'
        '  {name = "calc", type = "tool", tool = "calculator", input = {input = "6 * 7"}},\n'
        '  {name = "again", type = "tool", tool = "calculator", input = {input = "1 + 1"}},\n'
        "}}:execute{}",
        all_of(shows_table("calc", "again"), shows_svg("svg[aria-label='step timeline']")),
    ),
    Case("Display.json", "Display.json{a = {1, 2}}", shows_text('"a": [')),
    Case(
        "error",
        'local function inner() error("boom in a cell") end\ninner()',
        shows_text("boom in a cell", "[cell"),
    ),
    Case(
        "interrupt",
        'print("looping")\nlocal n = 0\nwhile true do n = n + 1 end',
        shows_text("KeyboardInterrupt"),
        while_running=press_interrupt_once_running("looping"),
    ),
    Case("after the interrupt", "6 * 7", shows_text("42")),
    Case(
        "widget slider",
        's = Widget.slider{min = 0, max = 10, value = 3, description = "n"}\n'
        'seen = Widget.label{value = "n is 3"}\n'
        's:on_change(function(v) seen.value = "n is " .. v end)\n'
        "Widget.vbox{s, seen}",
        moves_slider_then_shows("n is 4"),
    ),
    Case("widget slider value in the kernel", "s.value", shows_text("4")),
    Case(
        "widget button",
        'b = Widget.button{description = "Go"}\nout = Widget.output{}\nclicks = 0\n'
        'b:on_click(function() clicks = clicks + 1; print("clicked " .. clicks) end,\n'
        "  {output = out})\n"
        "Widget.vbox{b, out}",
        clicks_then_shows("Go", "clicked 1", "clicked 2"),
    ),
    Case("widget clicks in the kernel", "clicks", shows_text("2")),
]


# --- JupyterLab ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_settings(config_dir: Path) -> None:
    """User settings of this throw-away Lab: no news or update toasts over the outputs, and
    every cell rendered (no windowing), so locators find them."""
    settings = config_dir / "lab" / "user-settings" / "@jupyterlab"
    files = {
        "apputils-extension/notification.jupyterlab-settings": {
            "fetchNews": "false",
            "checkForUpdates": False,
        },
        "notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    }
    for name, value in files.items():
        path = settings / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))


def write_notebook(path: Path, cases: list[Case]) -> None:
    cells = [
        {
            "cell_type": "code",
            "execution_count": None,
            "id": f"case-{i}",
            "metadata": {},
            "outputs": [],
            "source": case.source,
        }
        for i, case in enumerate(cases)
    ]
    notebook = {
        "cells": cells,
        "metadata": {"kernelspec": KERNEL, "language_info": {"name": "lua"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(notebook, indent=1))


def start_lab(home: Path, root: Path, port: int, token: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LLMSPELL_", "JUPYTER_"))}
    env.update(
        {
            # only this venv's kernelspecs; nothing of the developer's Jupyter or llmspell set-up
            "JUPYTER_PATH": str(Path(sys.prefix) / "share" / "jupyter"),
            "JUPYTER_CONFIG_DIR": str(home / "config"),
            "JUPYTER_DATA_DIR": str(home / "data"),
            "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
            "LLMSPELL_PROFILE": "memory",
            "XDG_DATA_HOME": str(home / "xdg-data"),
            "XDG_CONFIG_HOME": str(home / "xdg-config"),
        }
    )
    write_settings(home / "config")
    log = (home / "lab.log").open("wb")
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if os.geteuid() == 0:
        command.append("--allow-root")  # CI runs as root in a throw-away container
    return subprocess.Popen(
        command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def wait_for_lab(lab: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if lab.poll() is not None:
            raise RuntimeError(f"JupyterLab exited ({lab.returncode}):\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"JupyterLab did not answer {url} in 120 s:\n{log.read_text()[-3000:]}")


def stop_lab(lab: subprocess.Popen[bytes]) -> None:
    """SIGTERM to Lab's own process group (Lab and the kernels it started)."""
    if lab.poll() is None:
        os.killpg(lab.pid, signal.SIGTERM)
        try:
            lab.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(lab.pid, signal.SIGKILL)
            lab.wait()


# --- driving the page ---------------------------------------------------------------------------


def run_cell(page: Page, cell: Locator, case: Case) -> None:
    prompt = cell.locator(".jp-InputPrompt")
    for attempt in range(3):
        cell.locator(".jp-InputArea-editor").click()
        page.keyboard.press("Shift+Enter")
        try:  # queued ([*]) or done ([3]); a key pressed before the editor had focus is lost
            expect(prompt).not_to_have_text(re.compile(r"\[ \]"), timeout=CHECK_MS)
            break
        except AssertionError:
            if attempt == 2:
                raise
    if case.while_running is not None:
        case.while_running(page, cell)
    expect(prompt).to_have_text(re.compile(r"\[\d+\]"), timeout=WAIT_MS)  # not [*]: done
    case.check(page, cell)
    no_json_tree(page, cell)


def file_name(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def check_in_browser(url: str, cases: list[Case], chromium: str, artifacts: Path) -> list[str]:
    failures: list[str] = []
    with (
        tempfile.TemporaryDirectory(prefix="llmspell-chromium-") as profile,
        sync_playwright() as p,
    ):
        context = p.chromium.launch_persistent_context(
            profile,
            executable_path=chromium,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1280, "height": 1000},
        )
        page = context.pages[0] if context.pages else context.new_page()
        page.goto(url, timeout=WAIT_MS)
        cells = page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell")
        expect(cells).to_have_count(len(cases), timeout=WAIT_MS)
        expect(page.locator(".jp-NotebookPanel-toolbar")).to_contain_text(
            KERNEL["display_name"], timeout=WAIT_MS
        )
        # the kernel has started and answered: cells typed into now run
        expect(page.locator("#jp-main-statusbar")).to_contain_text("Idle", timeout=WAIT_MS)
        for i, case in enumerate(cases):
            cell = cells.nth(i)
            try:
                run_cell(page, cell, case)
                print(f"ok    {case.name}", flush=True)
            except Exception as exc:
                failures.append(f"{case.name}: {type(exc).__name__}: {exc}")
                print(f"FAIL  {case.name}\n{traceback.format_exc()}", flush=True)
            cell.scroll_into_view_if_needed()
            cell.screenshot(path=str(artifacts / f"{i + 1:02d}-{file_name(case.name)}.png"))
        page.screenshot(path=str(artifacts / "notebook.png"), full_page=True)
        context.close()
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifacts", type=Path, default=ROOT / ".ci" / "artifacts" / "browser")
    parser.add_argument("--chromium", default=os.environ.get("CHROMIUM", "/usr/bin/chromium"))
    parser.add_argument("-k", dest="only", help="run only the cases whose name contains this")
    args = parser.parse_args(argv)
    # a CI timeout's SIGTERM still stops Lab and its kernel (the `finally` below)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    cases = [c for c in CASES if not args.only or args.only in c.name]
    args.artifacts.mkdir(parents=True, exist_ok=True)
    for old in args.artifacts.glob("*.png"):
        old.unlink()
    with tempfile.TemporaryDirectory(prefix="llmspell-lab-") as tmp:
        home, root = Path(tmp), Path(tmp) / "root"
        root.mkdir()
        write_notebook(root / "check.ipynb", cases)
        port, token = free_port(), secrets.token_hex(16)
        lab = start_lab(home, root, port, token)
        try:
            wait_for_lab(lab, f"http://127.0.0.1:{port}/api/status?token={token}", home / "lab.log")
            url = f"http://127.0.0.1:{port}/lab/tree/check.ipynb?token={token}&reset"
            failures = check_in_browser(url, cases, args.chromium, args.artifacts)
        finally:
            stop_lab(lab)
            (args.artifacts / "lab.log").write_bytes((home / "lab.log").read_bytes())
    print(f"screenshots and Lab's log: {args.artifacts}")
    if failures:
        print(f"{len(failures)} of {len(cases)} cases failed:\n  " + "\n  ".join(failures))
        return 1
    print(f"all {len(cases)} cases render as expected")
    return 0


if __name__ == "__main__":
    sys.exit(main())
