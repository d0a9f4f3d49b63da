"""A local S3 for the tests: moto's server on a loopback port, one request at a time.

Usage: python3 moto_s3.py PORT_FILE REQUEST_LOG

It binds 127.0.0.1 on a free port, writes the port to PORT_FILE once it listens, and serves until killed.
Requests are served one at a time (werkzeug's single-threaded server), so each conditional write is checked and
made atomically, as S3 does; moto's threaded server gives no such promise. Being serial, the server also knows the
true order of events: it appends one JSON line per request to REQUEST_LOG (method, path, conditional headers,
status), which the tests read to check, for example, that no two runs ever held the lock at once.
"""

import json
import os
import sys

from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server


class RequestLog:
    def __init__(self, app, path):
        self.app = app
        self.file = open(path, "a", buffering=1)

    def __call__(self, environ, start_response):
        seen = {}

        def recording_start(status, headers, exc_info=None):
            seen["status"] = int(status.split(" ", 1)[0])
            return start_response(status, headers, exc_info)

        body = self.app(environ, recording_start)
        entry = {
            "method": environ.get("REQUEST_METHOD"),
            "path": environ.get("PATH_INFO"),
            "query": environ.get("QUERY_STRING", ""),
            "if_match": environ.get("HTTP_IF_MATCH"),
            "if_none_match": environ.get("HTTP_IF_NONE_MATCH"),
            "status": seen.get("status"),
        }
        self.file.write(json.dumps(entry) + "\n")
        return body


def main() -> None:
    port_file, log = sys.argv[1], sys.argv[2]
    app = RequestLog(DomainDispatcherApplication(create_backend_app), log)
    server = make_server("127.0.0.1", 0, app, threaded=False)
    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.port))
    os.replace(tmp, port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
