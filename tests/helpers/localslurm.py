"""A real one-node Slurm for integration tests: Debian's packages, munged, slurmctld and slurmd started from a
``slurm.conf`` in a temporary folder (no accounting), stopped again by the PIDs this helper started.

Facts and pitfalls: ../shared/reference/slurm-local.md. Needs root (the daemons run as root, munged as ``munge``);
:func:`slurm_unavailable` says in one line why it cannot run here, for ``pytest.skip``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

PACKAGES = ("slurmctld", "slurmd", "slurm-client", "munge")
DAEMONS = ("/usr/sbin/munged", "/usr/sbin/slurmctld", "/usr/sbin/slurmd", "/usr/bin/sbatch")


def slurm_unavailable() -> str | None:
    """None when a local Slurm can be started (installing the packages if missing), else why not (one line)."""
    if os.geteuid() != 0:
        return "needs root: the Slurm daemons and munged are started as root"
    if all(Path(p).exists() for p in DAEMONS):
        return None
    if shutil.which("apt-get") is None:
        return f"the Debian packages {' '.join(PACKAGES)} are missing and apt-get is not here"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    done = subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES], env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], capture_output=True, timeout=600, check=False)
        done = subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES], env=env,
                              capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0 or not all(Path(p).exists() for p in DAEMONS):
        return f"could not install {' '.join(PACKAGES)}: {(done.stderr or done.stdout).strip().splitlines()[-1:]}"
    return None


def _slurm_conf(folder: Path, cpus: int) -> Path:
    host = socket.gethostname().split(".")[0]
    hardware = subprocess.run(["/usr/sbin/slurmd", "-C"], capture_output=True, text=True, check=True).stdout
    memory = next((int(w.split("=")[1]) for w in hardware.split() if w.startswith("RealMemory=")), 2000)
    conf = folder / "slurm.conf"
    conf.write_text("\n".join([
        "ClusterName=codecstudy-test", f"SlurmctldHost={host}", "SlurmUser=root", "SlurmdUser=root",
        "AuthType=auth/munge", "AuthInfo=cred_expire=10", "MpiDefault=none", "MailProg=/bin/true",
        "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none", "ReturnToService=2",
        f"SlurmctldPidFile={folder}/slurmctld.pid", f"SlurmdPidFile={folder}/slurmd.pid",
        f"SlurmdSpoolDir={folder}/slurmd", f"StateSaveLocation={folder}/state",
        f"SlurmctldLogFile={folder}/slurmctld.log", f"SlurmdLogFile={folder}/slurmd.log",
        "SchedulerType=sched/backfill", "SchedulerParameters=sched_interval=2", "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_CPU", "JobRequeue=1", "MinJobAge=300", "AccountingStorageType=accounting_storage/none",
        "JobAcctGatherType=jobacct_gather/none",
        f"NodeName={host} CPUs={cpus} RealMemory={max(500, memory // 2)} State=UNKNOWN",
        f"PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP",
    ]) + "\n")
    for sub in ("slurmd", "state"):
        (folder / sub).mkdir(exist_ok=True)
    return conf


def _munge_works() -> bool:
    try:
        made = subprocess.run(["munge", "-n"], capture_output=True, timeout=10, check=False)
        return made.returncode == 0 and subprocess.run(["unmunge"], input=made.stdout, capture_output=True,
                                                       timeout=10, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _start_munged() -> int | None:
    """munged as ``munge`` (None when one already answers); its PID."""
    if _munge_works():
        return None
    for folder in ("/run/munge", "/var/lib/munge", "/var/log/munge"):
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.chown(folder, "munge", "munge")
    key = Path("/etc/munge/munge.key")
    if not key.exists():
        subprocess.run(["mungekey", "--create", f"--keyfile={key}"], check=True)
        shutil.chown(key, "munge", "munge")
        key.chmod(0o400)
    subprocess.run(["runuser", "-u", "munge", "--", "/usr/sbin/munged"], check=True, timeout=30)
    pid = int(Path("/run/munge/munged.pid").read_text().strip())
    for _ in range(50):
        if _munge_works():
            return pid
        time.sleep(0.1)
    raise RuntimeError("munged started but munge -n | unmunge fails")


def _stop(pid: int | None, name: str) -> None:
    """TERM a daemon this helper started, after checking that the PID is still that daemon."""
    if pid is None:
        return
    try:
        if Path(f"/proc/{pid}/comm").read_text().strip() != name:
            return
        os.kill(pid, signal.SIGTERM)
    except (OSError, ProcessLookupError):
        return
    for _ in range(150):
        if not Path(f"/proc/{pid}").exists():
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def local_slurm(folder: Path, cpus: int = 2) -> Iterator[dict[str, str]]:
    """A running one-node Slurm; yields the environment its clients need (``SLURM_CONF``)."""
    folder.mkdir(parents=True, exist_ok=True)
    conf = _slurm_conf(folder, cpus)
    env = {**os.environ, "SLURM_CONF": str(conf)}
    munged = _start_munged()
    pids: dict[str, int | None] = {"slurmctld": None, "slurmd": None}
    try:
        for daemon in ("slurmctld", "slurmd"):
            subprocess.run([f"/usr/sbin/{daemon}"], env=env, check=True, timeout=60)
            pid_file = folder / f"{daemon}.pid"
            for _ in range(100):
                if pid_file.is_file() and pid_file.read_text().strip():
                    break
                time.sleep(0.1)
            pids[daemon] = int(pid_file.read_text().strip())
        for _ in range(300):
            state = subprocess.run(["sinfo", "--noheader", "--format=%t"], env=env, capture_output=True, text=True,
                                   check=False).stdout.strip()
            if state in ("idle", "mix", "alloc"):
                break
            time.sleep(0.2)
        else:
            raise RuntimeError(f"the Slurm node did not come up (sinfo: {state!r}); see {folder}/slurmd.log")
        yield env
    finally:
        subprocess.run(["scancel", "--user=root"], env=env, capture_output=True, check=False)
        _stop(pids["slurmd"], "slurmd")
        _stop(pids["slurmctld"], "slurmctld")
        _stop(munged, "munged")
