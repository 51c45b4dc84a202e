"""A tiny model server to run as a real process: `/health` and an OpenAI-style chat reply.

    python -m tests.utils.model_server --port N [--startup-delay S] [--exit-after S]
        [--exit-code C] [--unhealthy] [--ignore-sigterm] [--child-pid-file PATH]
        [--pid-log PATH]

Standard library only, so it also runs as a plain script with any Python.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve()


# ---- for the tests that run it


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def command(*flags: str) -> list[str]:
    """The command line an endpoint runs; `{port}` is filled in by the endpoint manager."""
    # -P: the script's own folder is not put on the path, where tests/utils/http.py would
    # shadow the standard library's http
    return [sys.executable, "-P", str(SCRIPT), "--port", "{port}", *flags]


def pid_alive(pid: int) -> bool:
    """Whether `pid` is a live process (a zombie waiting to be reaped counts as dead)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return False
    except OSError:  # no /proc: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return fields[0] not in ("Z", "X")


# ---- the server


def make_handler(unhealthy: bool) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return None  # quiet: the manager keeps our output only to explain failures

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _stream(self, model: str, text: str) -> None:
            """Server-sent chunks as llama-server and vLLM send them, usage last."""
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            base = {"id": "chatcmpl-tiny", "object": "chat.completion.chunk", "model": model}
            chunks = [{"role": "assistant", "content": ""}] + [
                {"content": word} for word in text.split(" ") if word
            ]
            for index, delta in enumerate(chunks):
                if index > 1:
                    delta = {"content": " " + delta["content"]}
                choice = {"index": 0, "delta": delta, "finish_reason": None}
                self.wfile.write(f"data: {json.dumps({**base, 'choices': [choice]})}\n\n".encode())
            done = {"index": 0, "delta": {}, "finish_reason": "stop"}
            self.wfile.write(f"data: {json.dumps({**base, 'choices': [done]})}\n\n".encode())
            usage = {"prompt_tokens": 1, "completion_tokens": len(chunks) - 1, "total_tokens": 0}
            usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
            self.wfile.write(
                f"data: {json.dumps({**base, 'choices': [], 'usage': usage})}\n\n".encode()
            )
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
            self.close_connection = True

        def do_GET(self) -> None:
            if self.path == "/health":
                if unhealthy:
                    self._send(503, {"status": "loading"})
                else:
                    self._send(200, {"status": "ok", "pid": os.getpid()})
            elif self.path == "/v1/models":
                self._send(200, {"object": "list", "data": [{"id": "tiny", "object": "model"}]})
            else:
                self._send(404, {"error": "not found"})

        def do_POST(self) -> None:
            if self.path != "/v1/chat/completions":
                self._send(404, {"error": "not found"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            request = json.loads(self.rfile.read(length) or b"{}")
            last = (request.get("messages") or [{}])[-1].get("content", "")
            if request.get("stream"):
                self._stream(request.get("model", "tiny"), f"echo: {last}")
                return
            self._send(
                200,
                {
                    "id": "chatcmpl-tiny",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": request.get("model", "tiny"),
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": f"echo: {last}"},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
                },
            )

    return Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--startup-delay", type=float, default=0.0)
    parser.add_argument("--exit-after", type=float, default=None)
    parser.add_argument("--exit-code", type=int, default=3)
    parser.add_argument("--unhealthy", action="store_true")
    parser.add_argument("--ignore-sigterm", action="store_true")
    parser.add_argument("--child-pid-file", type=Path, default=None)
    parser.add_argument("--pid-log", type=Path, default=None, help="append our pid here")
    args = parser.parse_args(argv)

    if args.pid_log is not None:
        with args.pid_log.open("a") as log:
            log.write(f"{os.getpid()}\n")
    if args.ignore_sigterm:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if args.child_pid_file is not None:
        # a grandchild in the same process group, as servers with workers have
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        args.child_pid_file.write_text(str(child.pid))
    print(f"model server starting on port {args.port}", flush=True)
    time.sleep(args.startup_delay)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(args.unhealthy))
    if args.exit_after is not None:

        def exit_later() -> None:
            time.sleep(args.exit_after)
            print(f"model server exiting with code {args.exit_code}", flush=True)
            os._exit(args.exit_code)

        threading.Thread(target=exit_later, daemon=True).start()
    print("model server ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
