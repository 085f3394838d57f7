"""Drive Debian's headless ``chromium`` through the Chrome DevTools Protocol over a pipe (``--remote-debugging-pipe``).

No driver package and no websocket: chromium reads commands from fd 3 and writes replies and events to fd 4, each
message one JSON object ended by a NUL byte. Enough of the protocol for page tests: open a page, evaluate
JavaScript, click, type, press keys, reload, and let downloads land in a folder.
"""

from __future__ import annotations

import fcntl
import json
import os
import queue
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--mute-audio", "--hide-scrollbars",
         "--autoplay-policy=no-user-gesture-required", "--remote-debugging-pipe"]

KEYS = {" ": ("Space", 32), "Enter": ("Enter", 13), "ArrowUp": ("ArrowUp", 38), "ArrowDown": ("ArrowDown", 40),
        "ArrowLeft": ("ArrowLeft", 37), "ArrowRight": ("ArrowRight", 39)}


class CDPError(RuntimeError):
    pass


class Chromium:
    """One headless chromium with one page; use as a context manager."""

    def __init__(self, executable: str, profile: Path, downloads: Path | None = None, size: str = "1200,900") -> None:
        to_chrome_r, to_chrome_w = os.pipe()
        from_chrome_r, from_chrome_w = os.pipe()
        # copies far above 3 and 4 (closed at exec), so that moving them onto 3 and 4 in the child clobbers nothing
        high_r = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD_CLOEXEC, 100)
        high_w = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD_CLOEXEC, 100)

        def child() -> None:  # dup2 leaves 3 and 4 open across exec
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        self.proc = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={profile}", f"--window-size={size}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=child, close_fds=False,
        )
        for fd in (to_chrome_r, from_chrome_w, high_r, high_w):
            os.close(fd)
        self._out = os.fdopen(to_chrome_w, "wb", buffering=0)
        self._in = os.fdopen(from_chrome_r, "rb", buffering=0)
        self._next = 0
        self._replies: dict[int, queue.Queue] = {}
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()
        targets = self.call("Target.getTargets")["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        self.session = self.call("Target.attachToTarget", targetId=page["targetId"], flatten=True)["sessionId"]
        for domain in ("Page", "Runtime"):
            self.call(f"{domain}.enable", session=True)
        if downloads is not None:
            self.call("Browser.setDownloadBehavior", behavior="allow", downloadPath=str(downloads),
                      eventsEnabled=True)

    # ---------------------------------------------------------------------------------------------- protocol
    def _read(self) -> None:
        buffer = b""
        while True:
            chunk = self._in.read(65536)
            if not chunk:
                return
            buffer += chunk
            while b"\0" in buffer:
                raw, buffer = buffer.split(b"\0", 1)
                message = json.loads(raw)
                if "id" in message and message["id"] in self._replies:
                    self._replies[message["id"]].put(message)
                else:
                    with self._lock:
                        self.events.append(message)

    def call(self, method: str, session: bool = False, timeout: float = 30.0, **params: Any) -> dict[str, Any]:
        self._next += 1
        ident = self._next
        self._replies[ident] = queue.Queue()
        message: dict[str, Any] = {"id": ident, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        self._out.write(json.dumps(message).encode() + b"\0")
        try:
            reply = self._replies[ident].get(timeout=timeout)
        except queue.Empty:
            raise CDPError(f"{method}: no reply in {timeout} s") from None
        finally:
            del self._replies[ident]
        if "error" in reply:
            raise CDPError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def wait_event(self, method: str, since: int = 0, timeout: float = 30.0) -> dict[str, Any]:
        """The first event ``method`` at index >= ``since`` of :attr:`events`."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self._lock:
                for event in self.events[since:]:
                    if event.get("method") == method:
                        return event
            time.sleep(0.02)
        raise CDPError(f"no {method} event in {timeout} s")

    # ------------------------------------------------------------------------------------------------- page
    def eval(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", session=True, expression=expression, returnByValue=True,
                           awaitPromise=True)
        if "exceptionDetails" in result:
            raise CDPError(f"{expression[:80]}: {result['exceptionDetails'].get('exception', {}).get('description')}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 10.0) -> Any:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            value = self.eval(expression)
            if value:
                return value
            time.sleep(0.05)
        raise CDPError(f"still false after {timeout} s: {expression}")

    def _load(self, action: str, **params: Any) -> None:
        mark = len(self.events)
        self.call(action, session=True, **params)
        self.wait_event("Page.loadEventFired", since=mark)

    def open(self, url: str) -> None:
        self._load("Page.navigate", url=url)

    def reload(self) -> None:
        self._load("Page.reload")

    def click(self, selector: str, fraction: float = 0.5) -> None:
        """A real mouse click at ``fraction`` of the element's width (sliders: where the value lands)."""
        box = self.eval(f"(function(){{var r=document.querySelector({json.dumps(selector)}).getBoundingClientRect();"
                        "return [r.left, r.top, r.width, r.height];})()")
        x, y = box[0] + box[2] * fraction, box[1] + box[3] / 2
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", session=True, type=kind, x=x, y=y, button="left", clickCount=1)

    def type_text(self, text: str) -> None:
        self.call("Input.insertText", session=True, text=text)

    def key(self, key: str, shift: bool = False) -> None:
        if key in KEYS:
            code, vk = KEYS[key]
        else:
            code, vk = (f"Key{key.upper()}" if key.isalpha() else f"Digit{key}"), ord(key.upper())
        text = key if len(key) == 1 else ("\r" if key == "Enter" else "")
        down: dict[str, Any] = {"type": "keyDown", "key": key, "code": code, "windowsVirtualKeyCode": vk,
                                "modifiers": 8 if shift else 0}
        if text:
            down["text"] = text
        self.call("Input.dispatchKeyEvent", session=True, **down)
        self.call("Input.dispatchKeyEvent", session=True, type="keyUp", key=key, code=code,
                  windowsVirtualKeyCode=vk, modifiers=8 if shift else 0)

    def screenshot(self, path: Path) -> Path:
        import base64

        data = self.call("Page.captureScreenshot", session=True, format="png")["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        try:
            self.call("Browser.close", timeout=5)
        except (CDPError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

