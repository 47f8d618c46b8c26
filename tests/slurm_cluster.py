"""A real one-node Slurm cluster on this machine, for the Slurm integration test.

The fixture :func:`slurm_cluster` starts, in a temporary folder, a ``munged`` with its own key,
socket and pid file (in the foreground it logs to ``log/munged.out``), and a ``slurmctld`` and a
``slurmd`` (Debian packages ``slurm-wlm`` and ``munge``) that read a ``slurm.conf`` written there:
this host (``hostname -s``) as the only node with its real CPU count and memory, one default
partition, no cgroups (``proctrack/linuxproc``, ``task/none``), no accounting (so no ``slurmdbd``
and no working ``sacct``: job states come from ``squeue``, which lists finished jobs for
``MinJobAge`` seconds), free TCP ports and every state, spool, pid and log file in the temporary
folder. Nothing is read from or written to ``/etc/slurm``, ``/etc/munge`` or ``/run``; other
Slurm or munge daemons on the machine are left alone.

Clients reach this cluster through :attr:`SlurmCluster.env`: ``SLURM_CONF`` points at its
``slurm.conf`` (whose ``AuthInfo`` names its munge socket), and wrappers of the client commands
(``sbatch``, ``srun``, ``squeue``, ...) that set ``SLURM_CONF`` come first on ``PATH``, so that
commands which drop ``SLURM_*`` variables (the Slurm executor's job step) still find it. At the
end of the session the fixture cancels the jobs still in its queue, then stops the three daemons
it started (terminate, then kill after a timeout) and nothing else; the daemons' logs stay in the
folder and :meth:`SlurmCluster.logs` shows their tails in failure messages.

The daemons run as root (``SlurmUser=root``). Where they cannot be started (not root, or a binary
missing) the fixture fails with a clear message if the environment variable ``CI`` is set, and
skips otherwise (as :mod:`tests.orthanc` does for Orthanc).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

INSTALL_HINT = (
    "run as root and apt-get install --no-install-recommends slurm-wlm munge (or run .ci/run)"
)
DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "squeue", "sinfo", "srun", "scancel", "scontrol")
PARTITION = "mvaltest"
_START_TIMEOUT_S = 60.0
_STOP_TIMEOUT_S = 15.0
# squeue --states=all lists a finished job for MinJobAge seconds; the Slurm executor plugin only
# trusts squeue for job states when MinJobAge >= 3 x its first status-check delay.
MIN_JOB_AGE_S = 300


def _fail_or_skip(message: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"CI is set, so this is an error: {message}", pytrace=False)
    pytest.skip(message)


def require_slurm() -> dict[str, str]:
    """Paths of the Slurm and munge programs; fail under CI, skip otherwise, when one is missing.

    The daemons need root: ``slurmd`` starts each job as the user who submitted it, and the
    test cluster's ``SlurmUser`` is root.
    """
    search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    found = {name: shutil.which(name, path=search) for name in (*DAEMONS, *CLIENTS)}
    missing = sorted(name for name, path in found.items() if path is None)
    if missing:
        _fail_or_skip(f"Slurm/munge programs not found: {', '.join(missing)}; {INSTALL_HINT}")
    if os.geteuid() != 0:
        _fail_or_skip(f"a test Slurm cluster needs root (slurmd runs jobs); {INSTALL_HINT}")
    return {name: path for name, path in found.items() if path is not None}


def free_port() -> int:
    """A TCP port that nothing listens on (at the moment of the call)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("", 0))
        return sock.getsockname()[1]


def node_hardware(slurmd: str) -> dict[str, int]:
    """This host's CPUs, sockets, cores, threads and memory (MiB), as ``slurmd -C`` reports them.

    ``RealMemory`` is lowered by 5 % (at least 256 MiB) so that the node never registers with
    less memory than configured (which would drain it).
    """
    out = subprocess.run([slurmd, "-C"], capture_output=True, text=True, check=True).stdout
    values = {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", out)}
    cpus = values.get("CPUs") or os.cpu_count() or 1
    memory = values.get("RealMemory") or 1024
    return {
        "CPUs": cpus,
        "Boards": values.get("Boards", 1),
        "SocketsPerBoard": values.get("SocketsPerBoard", 1),
        "CoresPerSocket": values.get("CoresPerSocket", cpus),
        "ThreadsPerCore": values.get("ThreadsPerCore", 1),
        "RealMemory": max(256, memory - max(256, memory // 20)),
    }


@dataclass
class SlurmCluster:
    """munged + slurmctld + slurmd for this host, everything in ``workdir``."""

    workdir: Path
    programs: dict[str, str]
    hostname: str = field(default_factory=lambda: socket.gethostname().split(".")[0])
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    hardware: dict[str, int] = field(default_factory=dict)

    @property
    def conf(self) -> Path:
        """The cluster's ``slurm.conf``."""
        return self.workdir / "slurm.conf"

    @property
    def munge_socket(self) -> Path:
        return self.workdir / "munge" / "munge.socket"

    @property
    def bin_dir(self) -> Path:
        """Wrappers of the Slurm client commands that read this cluster's ``slurm.conf``."""
        return self.workdir / "bin"

    @property
    def env(self) -> dict[str, str]:
        """The current environment, pointed at this cluster.

        ``SLURM_CONF`` names its ``slurm.conf`` and :attr:`bin_dir` comes first on ``PATH``. The
        wrappers are needed because the Slurm executor's job step (``slurm-jobstep``) removes
        every ``SLURM_*`` variable but the job's identity before it calls ``srun`` inside the
        job; on a real cluster ``srun`` then finds ``/etc/slurm/slurm.conf``, here it finds the
        wrapper, which sets ``SLURM_CONF`` again.
        """
        env = {key: value for key, value in os.environ.items() if not key.startswith("SLURM_")}
        env["SLURM_CONF"] = str(self.conf)
        env["PATH"] = os.pathsep.join([str(self.bin_dir), os.environ.get("PATH", "")])
        return env

    def log_path(self, daemon: str) -> Path:
        return self.workdir / "log" / f"{daemon}.log"

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run a Slurm client command (``sinfo``, ``squeue``, ...) against this cluster."""
        program = self.programs.get(args[0], args[0])
        return subprocess.run(
            [program, *args[1:]],
            env=self.env,
            capture_output=True,
            text=True,
            check=check,
            timeout=60,
        )

    def start(self) -> None:
        """Write the munge key and ``slurm.conf``, start the daemons, wait for an idle node."""
        for sub in ("munge", "log", "run", "state", "spool"):
            (self.workdir / sub).mkdir(parents=True, exist_ok=True)
        # munged refuses a key, socket or log in a folder others may write to; clients need to
        # reach its socket
        for sub in ("log", "run"):
            (self.workdir / sub).chmod(0o700)
        (self.workdir / "munge").chmod(0o711)
        os.chmod(self.workdir, 0o755)
        key = self.workdir / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        self.hardware = node_hardware(self.programs["slurmd"])
        self._write_conf()
        self._write_client_wrappers()

        self._spawn(
            "munged",
            [
                self.programs["munged"],
                "--foreground",
                "--force",
                f"--key-file={key}",
                f"--socket={self.munge_socket}",
                f"--pid-file={self.workdir / 'run' / 'munged.pid'}",
                f"--seed-file={self.workdir / 'munge' / 'munged.seed'}",
                f"--log-file={self.log_path('munged')}",
            ],
        )
        self._wait(lambda: self.munge_socket.exists(), "munged to create its socket")
        self._spawn("slurmctld", [self.programs["slurmctld"], "-D", "-i", "-f", str(self.conf)])
        self._wait(lambda: self.run("sinfo", check=False).returncode == 0, "slurmctld to answer")
        self._spawn(
            "slurmd", [self.programs["slurmd"], "-D", "-N", self.hostname, "-f", str(self.conf)]
        )
        self._wait(lambda: self.node_state() == "idle", f"node {self.hostname} to be idle")

    def _write_conf(self) -> None:
        hw = self.hardware
        node = " ".join(f"{key}={value}" for key, value in hw.items())
        conf = f"""\
# One-node test cluster written by tests/slurm_cluster.py; removed with its folder.
ClusterName=mvaltest
SlurmctldHost={self.hostname}(127.0.0.1)
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={self.munge_socket}
StateSaveLocation={self.workdir / "state"}
SlurmdSpoolDir={self.workdir / "spool"}
SlurmctldPidFile={self.workdir / "run" / "slurmctld.pid"}
SlurmdPidFile={self.workdir / "run" / "slurmd.pid"}
SlurmctldLogFile={self.log_path("slurmctld")}
SlurmdLogFile={self.log_path("slurmd")}
SlurmctldDebug=info
SlurmdDebug=info
PlugStackConfig={self.workdir / "plugstack.conf"}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
ReturnToService=2
MinJobAge={MIN_JOB_AGE_S}
InactiveLimit=0
KillWait=5
NodeName={self.hostname} NodeAddr=127.0.0.1 {node} State=UNKNOWN
PartitionName={PARTITION} Nodes={self.hostname} Default=YES MaxTime=INFINITE State=UP
"""
        (self.workdir / "plugstack.conf").write_text("")
        self.conf.write_text(conf)

    def _write_client_wrappers(self) -> None:
        self.bin_dir.mkdir(exist_ok=True)
        search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
        for name in (*CLIENTS, "sacct", "salloc", "sstat", "sshare", "sacctmgr"):
            real = self.programs.get(name) or shutil.which(name, path=search)
            if real is None:
                continue
            wrapper = self.bin_dir / name
            wrapper.write_text(
                f'#!/bin/sh\nexport SLURM_CONF="{self.conf}"\nexec "{real}" "$@"\n',
                encoding="utf-8",
            )
            wrapper.chmod(0o755)

    def _spawn(self, name: str, argv: list[str]) -> None:
        with open(self.workdir / "log" / f"{name}.out", "wb") as out:
            self.processes[name] = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.workdir,
                env=self.env,
                start_new_session=True,  # a Ctrl-C of pytest does not hit the daemons first
            )

    def _wait(self, ready, what: str) -> None:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    self.stop()
                    raise RuntimeError(
                        f"{name} exited with code {process.returncode} while waiting for "
                        f"{what}\n{self.logs()}"
                    )
            if ready():
                return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(
            f"timed out after {_START_TIMEOUT_S:.0f} s waiting for {what}\n{self.logs()}"
        )

    def node_state(self) -> str:
        """The node's state as ``sinfo`` reports it (``idle``, ``mix``, ``down*``, ...)."""
        result = self.run("sinfo", "-h", "-N", "-n", self.hostname, "-o", "%t", check=False)
        return result.stdout.strip() if result.returncode == 0 else ""

    def job_ids(self) -> list[str]:
        """Ids of the jobs this cluster still knows (queued, running or recently finished)."""
        result = self.run("squeue", "-h", "--states=all", "-o", "%i", check=False)
        return result.stdout.split() if result.returncode == 0 else []

    def stop(self) -> None:
        """Cancel the jobs still queued or running, then stop the daemons in reverse order."""
        if self.processes.get("slurmctld") and self.processes["slurmctld"].poll() is None:
            active = self.run("squeue", "-h", "-o", "%i", check=False).stdout.split()
            if active:
                self.run("scancel", *active, check=False)
                deadline = time.monotonic() + _STOP_TIMEOUT_S
                while (
                    time.monotonic() < deadline
                    and self.run("squeue", "-h", "-o", "%i", check=False).stdout.split()
                ):
                    time.sleep(0.5)
        for name in reversed(list(self.processes)):
            process = self.processes[name]
            if process.poll() is not None:
                continue
            process.terminate()
            try:
                process.wait(timeout=_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=_STOP_TIMEOUT_S)

    def logs(self, lines: int = 40) -> str:
        """The tails of the daemons' logs (and of their captured output), for failure messages."""
        parts = []
        for name in DAEMONS:
            # a daemon that died before opening its log file said why on its stdout/stderr
            for path in (self.log_path(name), self.workdir / "log" / f"{name}.out"):
                if path.exists() and path.stat().st_size:
                    tail = path.read_text(errors="replace").splitlines()[-lines:]
                    parts.append(f"--- {path} (last {len(tail)} lines) ---\n" + "\n".join(tail))
                    break
        return "\n".join(parts) or "(no daemon logs)"


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlurmCluster]:
    """A running one-node Slurm cluster with an idle node, for the whole session."""
    programs = require_slurm()
    cluster = SlurmCluster(tmp_path_factory.mktemp("slurm"), programs)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()
