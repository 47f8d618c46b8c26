"""A real Orthanc DICOMweb server for tests, started on a free loopback port.

One server runs for the whole session (fixture ``orthanc_server``, registered by
``tests/conftest.py``); each test module that asks for the fixture ``orthanc`` gets it emptied
first (:meth:`OrthancServer.clear`), so what one module stored never shows in another's queries,
whatever the order. The server has no DICOM listener, no remote access and no authentication;
its storage and index live in a temporary folder, and it is stopped at the end of the session
(terminate, then kill after a timeout).

Its Lua request filter answers HTTP 403 to every request whose URI holds a UID starting with
:data:`LOCKED_UID_PREFIX`: QIDO-RS lists such an instance (its study and series UIDs are normal),
but WADO-RS cannot retrieve it, which is how the tests get a genuine per-instance HTTP error.

When the Orthanc binary or its DICOMweb plugin is missing the fixture fails with a clear message
if the environment variable ``CI`` is set, and skips otherwise (:func:`require`).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

ORTHANC_BINARY = os.environ.get("MVAL_ORTHANC", "/usr/sbin/Orthanc")
DICOMWEB_PLUGIN = os.environ.get(
    "MVAL_ORTHANC_DICOMWEB_PLUGIN", "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"
)
LOCKED_UID_PREFIX = "2.25.4044040"
INSTALL_HINT = "apt-get install orthanc orthanc-dicomweb dicom3tools (or run .ci/run)"
_START_TIMEOUT_S = 30.0
_STOP_TIMEOUT_S = 10.0

_LUA_FILTER = f"""
function IncomingHttpRequestFilter(method, uri, ip, username, httpHeaders)
  if string.find(uri, '{LOCKED_UID_PREFIX}', 1, true) then
    return false
  end
  return true
end
"""


def require(path: str | None, what: str) -> str:
    """Return ``path`` if it is an existing file; else fail under CI, skip otherwise."""
    if path and Path(path).is_file():
        return path
    message = f"{what} not found (looked for {path or 'it on PATH'}); install: {INSTALL_HINT}"
    if os.environ.get("CI"):
        pytest.fail(f"CI is set, so this is an error: {message}", pytrace=False)
    pytest.skip(message)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (at the moment of the call)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class OrthancServer:
    """One Orthanc process with the DICOMweb plugin, in its own folder."""

    workdir: Path
    http_port: int = 0
    process: subprocess.Popen | None = None
    uploads: dict[str, requests.Response] = field(default_factory=dict)
    options: dict[str, object] = field(default_factory=dict)  # extra configuration entries

    @property
    def url(self) -> str:
        """Base URL of the Orthanc REST API."""
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def dicomweb_url(self) -> str:
        """DICOMweb service root (QIDO-RS, WADO-RS, STOW-RS)."""
        return f"{self.url}/dicom-web"

    @property
    def log_path(self) -> Path:
        return self.workdir / "orthanc.log"

    def start(self, binary: str, plugin: str) -> None:
        """Write the configuration, start Orthanc, wait until ``/system`` answers."""
        storage = self.workdir / "storage"
        storage.mkdir(parents=True, exist_ok=True)
        (self.workdir / "filter.lua").write_text(_LUA_FILTER)
        self.http_port = free_port()
        config = {
            "Name": "mval-test",
            "HttpPort": self.http_port,
            "DicomServerEnabled": False,
            "DicomPort": free_port(),
            "StorageDirectory": str(storage),
            "IndexDirectory": str(storage),
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": False,
            "HttpCompressionEnabled": False,
            "SaveJobs": False,
            "LuaScripts": [str(self.workdir / "filter.lua")],
            "Plugins": [plugin],
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": False},
            **self.options,
        }
        config_path = self.workdir / "orthanc.json"
        config_path.write_text(json.dumps(config, indent=2))
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [binary, str(config_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.workdir,
            )
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"Orthanc exited with code {self.process.returncode} at start-up; "
                    f"log:\n{self.log_tail()}"
                )
            try:
                if requests.get(f"{self.url}/system", timeout=1).ok:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(
            f"Orthanc did not answer {self.url}/system within {_START_TIMEOUT_S:.0f} s; "
            f"log:\n{self.log_tail()}"
        )

    def stop(self) -> None:
        """Terminate the process; kill it if it has not stopped within the timeout."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=_STOP_TIMEOUT_S)

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def clear(self) -> None:
        """Delete every instance the server holds (Orthanc REST) and forget the uploads."""
        response = requests.get(f"{self.url}/patients", timeout=30)
        response.raise_for_status()
        for patient in response.json():
            requests.delete(f"{self.url}/patients/{patient}", timeout=30).raise_for_status()
        self.uploads.clear()
        left = requests.get(f"{self.url}/instances", timeout=30)
        left.raise_for_status()
        if left.json():
            raise RuntimeError(f"Orthanc still holds {len(left.json())} instances after clear()")

    def upload(self, path: Path) -> requests.Response:
        """``POST /instances`` one file (Orthanc REST); the response is kept in ``uploads``."""
        response = requests.post(f"{self.url}/instances", data=path.read_bytes(), timeout=30)
        self.uploads[str(path)] = response
        return response

    def sop_instance_uids(self, query: dict[str, str] | None = None) -> set[str]:
        """SOP Instance UIDs of the instances the server holds (``/tools/find``)."""
        response = requests.post(
            f"{self.url}/tools/find",
            json={"Level": "Instance", "Query": query or {}, "Expand": True},
            timeout=30,
        )
        response.raise_for_status()
        return {item["MainDicomTags"]["SOPInstanceUID"] for item in response.json()}


@pytest.fixture(scope="session")
def orthanc_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancServer]:
    """A running Orthanc with DICOMweb on a free loopback port, for the whole session."""
    binary = require(shutil.which(ORTHANC_BINARY) or ORTHANC_BINARY, "Orthanc server binary")
    plugin = require(DICOMWEB_PLUGIN, "Orthanc DICOMweb plugin (orthanc-dicomweb)")
    server = OrthancServer(tmp_path_factory.mktemp("orthanc"))
    server.start(binary, plugin)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def orthanc(orthanc_server: OrthancServer) -> OrthancServer:
    """The session's Orthanc, empty at the start of the module that asks for it."""
    orthanc_server.clear()
    return orthanc_server
