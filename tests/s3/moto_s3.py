"""A local S3 for the tests: moto's server on a loopback port, one request at a time, with injectable faults.

Usage: python3 moto_s3.py PORT_FILE REQUEST_LOG

It binds 127.0.0.1 on a free port, writes the port to PORT_FILE once it listens, and serves until killed.
Requests are served one at a time (werkzeug's single-threaded server), so each conditional write is checked and
made atomically, as S3 does; moto's threaded server gives no such promise. Being serial, the server also knows the
true order of events: it appends one JSON line per request to REQUEST_LOG, which the tests read to check, for
example, that no two runs ever held the lock at once. Each line has the method, path, conditional headers, the
status the client saw, the injected fault if any, and `effect`: the status of the operation when it ran (null when
it did not run).

Faults (`PUT /_faults` with a JSON body; `{}` turns them off) hit object requests (/bucket/key) at the given rates:
  before_rate    a 500 InternalError; the request did not run
  after_rate     the request ran, then a 500 InternalError: the client does not know it took effect
  conflict_rate  a 409 ConditionalRequestConflict; the request did not run
  seed           the pseudo-random sequence (default 0), so a failing run can be repeated
"""

import json
import os
import random
import sys

from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

ERROR = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>'


def error(start_response, status, code, message):
    body = ERROR.format(code=code, message=message).encode()
    start_response(status, [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))])
    return [body]


class FaultyLoggedS3:
    def __init__(self, app, path):
        self.app = app
        self.file = open(path, "a", buffering=1)
        self.faults = {}
        self.rng = random.Random(0)

    def set_faults(self, environ, start_response):
        size = int(environ.get("CONTENT_LENGTH") or 0)
        self.faults = json.loads(environ["wsgi.input"].read(size) or b"{}")
        self.rng = random.Random(self.faults.get("seed", 0))
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b"{}"]

    def pick(self, path):
        # Only object requests: setting up buckets stays reliable.
        if path.count("/") < 2 or not self.faults:
            return None
        roll = self.rng.random()
        for kind in ("before", "after", "conflict"):
            rate = float(self.faults.get(kind + "_rate", 0))
            if roll < rate:
                return kind
            roll -= rate
        return None

    def run(self, environ):
        """Runs the request in moto: (status, headers, body)."""
        seen = {}

        def start(status, headers, exc_info=None):
            seen["status"], seen["headers"] = status, headers
            return lambda _data: None

        chunks = self.app(environ, start)
        try:
            body = b"".join(chunks)
        finally:
            if hasattr(chunks, "close"):
                chunks.close()
        return seen["status"], seen["headers"], body

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/_faults":
            return self.set_faults(environ, start_response)
        fault = self.pick(path)
        effect = None
        if fault == "before":
            answer = error(start_response, "500 Internal Server Error", "InternalError", "injected before")
            status = 500
        elif fault == "conflict":
            answer = error(start_response, "409 Conflict", "ConditionalRequestConflict", "injected conflict")
            status = 409
        else:
            full, headers, body = self.run(environ)
            effect = int(full.split(" ", 1)[0])
            if fault == "after":
                answer = error(start_response, "500 Internal Server Error", "InternalError", "injected after")
                status = 500
            else:
                start_response(full, headers)
                answer, status = [body], effect
        entry = {
            "method": environ.get("REQUEST_METHOD"),
            "path": path,
            "query": environ.get("QUERY_STRING", ""),
            "if_match": environ.get("HTTP_IF_MATCH"),
            "if_none_match": environ.get("HTTP_IF_NONE_MATCH"),
            "status": status,
            "fault": fault,
            "effect": effect,
        }
        self.file.write(json.dumps(entry) + "\n")
        return answer


def main() -> None:
    port_file, log = sys.argv[1], sys.argv[2]
    app = FaultyLoggedS3(DomainDispatcherApplication(create_backend_app), log)
    server = make_server("127.0.0.1", 0, app, threaded=False)
    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.port))
    os.replace(tmp, port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
