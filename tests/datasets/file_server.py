"""A local HTTP server for the download tests: serves files with Range support, and can drop a
connection after N bytes, serve wrong bytes, answer an error status or ignore Range."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FileServer:
    """Files by name (``files[name] = bytes``) at ``http://127.0.0.1:PORT/<name>``.

    ``faults[name]`` is a list of one-shot faults, used up in order by GETs: ``("drop", n)``
    sends n bytes then closes, ``("status", code)`` answers code, ``("corrupt", None)`` serves
    the bytes with one flipped, ``("no-range", None)`` ignores Range and sends it all (200),
    ``("overlong", n)`` sends n bytes more than the file without a Content-Length (streamed to
    the close, as a broken or hostile server may). ``head_faults[name]`` are one-shot statuses
    of HEADs.
    ``log`` holds (method, name, Range header) of every request.
    """

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.faults: dict[str, list] = {}
        self.head_faults: dict[str, list] = {}
        self.log: list[tuple[str, str, str | None]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_HEAD(self):
                name = self.path.lstrip("/")
                server.log.append(("HEAD", name, None))
                if name not in server.files:
                    return self.send_error(404)
                if server.head_faults.get(name):
                    return self.send_error(server.head_faults[name].pop(0))
                self.send_response(200)
                self.send_header("Content-Length", str(len(server.files[name])))
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()

            def do_GET(self):
                name = self.path.lstrip("/")
                ranged = self.headers.get("Range")
                server.log.append(("GET", name, ranged))
                if name not in server.files:
                    return self.send_error(404)
                data = server.files[name]
                fault = server.faults.get(name, [None]).pop(0) if server.faults.get(name) else None
                kind, arg = fault or (None, None)
                if kind == "status":
                    return self.send_error(arg)
                if kind == "overlong":
                    self.send_response(200)
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(data + b"x" * arg)
                    self.close_connection = True
                    return
                if kind == "corrupt":
                    data = data[:-40] + bytes([data[-40] ^ 0xFF]) + data[-39:]
                start = 0
                if ranged and kind != "no-range":
                    start = int(ranged.split("=")[1].split("-")[0])
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                body = data[start:]
                if kind == "drop":
                    self.wfile.write(body[:arg])
                    self.wfile.flush()
                    self.connection.shutdown(2)  # mid-file: the client sees a short read
                    return
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FileServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def gets(self, name: str) -> list[str | None]:
        """The Range headers of the GETs of ``name``, in order."""
        return [r for m, n, r in self.log if m == "GET" and n == name]
