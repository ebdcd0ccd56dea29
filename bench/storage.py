"""Storage: upload and download of 1 MB and 50 MB objects through the gateway (supabase-py's storage client,
as a user under RLS) vs writing and reading the same bytes to disk in this process, with the MD5 of those
bytes (the eTag every upload is hashed for, as on storage-api) beside them; signed-URL downloads;
and the one-row REST select through supabase-py, to see Storage cost the REST path nothing.

Gateway and disk take turns call by call (`interleaved`), so both share every moment of the run. Both
sides use the page cache alike (the gateway does not fsync, nor does the disk side).
"""

from __future__ import annotations

import hashlib
import os
import socket
import tempfile
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from storage3 import SyncStorageClient
from supabase import ClientOptions, create_client

from bench import Figure, Section, cpu_reference_ms, interleaved
from bench._stack import SETTINGS, gateway, postgres, wait_http
from devstack import tokens

MB = 1024 * 1024
LARGE_MB = int(os.environ.get("BENCH_STORAGE_LARGE_MB", "50"))
SIZES = {
    "1 MB": (MB, int(os.environ.get("BENCH_STORAGE_SMALL_COUNT", "40"))),
    f"{LARGE_MB} MB": (LARGE_MB * MB, int(os.environ.get("BENCH_STORAGE_LARGE_COUNT", "6"))),
}
SIGNED_COUNT = int(os.environ.get("BENCH_STORAGE_SIGNED_COUNT", "500"))
REST_COUNT = int(os.environ.get("BENCH_STORAGE_REST_COUNT", "1000"))
TARGET = 0.5  # of the disk's throughput
SCHEMA = """
insert into storage.buckets (id, name, public) values ('bench', 'bench', false);
create policy "bench: owners read" on storage.objects for select to authenticated
  using (bucket_id = 'bench' and (storage.foldername(name))[1] = (select auth.uid())::text);
create policy "bench: owners write" on storage.objects for insert to authenticated
  with check (bucket_id = 'bench' and (storage.foldername(name))[1] = (select auth.uid())::text);
create table public.bench_items (id int primary key, name text not null);
alter table public.bench_items enable row level security;
create policy "Anyone reads bench items" on public.bench_items for select to anon, authenticated using (true);
insert into public.bench_items select g, 'item ' || g from generate_series(1, 1000) g;
"""


def _throughput(size: int, figure: Figure) -> float:
    return size / MB / (figure.p50_ms / 1000)


def _size_figures(url: str, token: str, user: str, disk: Path, label: str, size: int, count: int) -> list[Figure]:
    payload = os.urandom(size)
    headers = {"apikey": SETTINGS.anon_key, "Authorization": f"Bearer {token}"}
    with httpx.Client(timeout=120) as http:
        files = SyncStorageClient(f"{url}/storage/v1/", headers, http_client=http).from_("bench")
        names = iter(f"{user}/{label.replace(' ', '')}-{i}.bin" for i in range(10_000))
        paths = iter(disk / f"{label.replace(' ', '')}-{i}.bin" for i in range(10_000))
        written: list[Path] = []

        def to_disk() -> None:
            path = next(paths)
            path.write_bytes(payload)
            written.append(path)

        def upload() -> None:
            files.upload(next(names), payload, {"content-type": "application/octet-stream"})

        def etag() -> None:  # storage-api's file backend hashes every upload (md5-file) for its eTag
            hashlib.md5(payload, usedforsecurity=False).hexdigest()

        uploads = interleaved(
            [
                (f"upload {label}: gateway", upload),
                (f"write {label}: disk", to_disk),
                (f"MD5 {label}: the eTag alone", etag),
            ],
            count,
            1,
        )
        stored = f"{user}/{label.replace(' ', '')}-0.bin"
        downloads = interleaved(
            [
                (f"download {label}: gateway", lambda: files.download(stored)),
                (
                    f"download {label}: gateway, bare socket client",
                    lambda: _raw_get(url, f"/storage/v1/object/bench/{stored}", token),
                ),
                (f"read {label}: disk", lambda: written[0].read_bytes()),
            ],
            count,
            1,
        )
        for path in written:
            path.unlink()
    return [*uploads, *downloads]


def _raw_get(url: str, path: str, token: str) -> int:
    """GET over a bare socket, the body counted and dropped: the gateway's own rate, without a client's
    HTTP parsing (httpx spends about twice the gateway's time on a 50 MB body)."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80)) as sock:
        request = f"GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
        sock.sendall(request.encode())
        chunk, total = bytearray(MB), 0  # the body is counted and dropped, as `curl -o /dev/null` does
        while received := sock.recv_into(chunk):
            total += received
        return total


def _signed(url: str, token: str, user: str) -> Figure:
    headers = {"apikey": SETTINGS.anon_key, "Authorization": f"Bearer {token}"}
    with httpx.Client(timeout=30) as http:
        files = SyncStorageClient(f"{url}/storage/v1/", headers, http_client=http).from_("bench")
        files.upload(f"{user}/small.txt", b"x" * 1024)
        signed = str(files.create_signed_url(f"{user}/small.txt", 3600)["signedURL"])
        return interleaved([("signed-URL download, 1 KB object (httpx)", lambda: http.get(signed))], SIGNED_COUNT)[0]


def _rest(url: str) -> Figure:
    with httpx.Client(timeout=30) as http:
        client = create_client(url, SETTINGS.anon_key, ClientOptions(httpx_client=http))
        call = (
            "select 1 row: supabase-py → gateway",
            lambda: client.table("bench_items").select("*").eq("id", 42).execute(),
        )
        return interleaved([call], REST_COUNT)[0]


def run() -> Section:
    user = str(uuid.uuid4())
    token = tokens.sign_user({"sub": user, "role": "authenticated", "aud": "authenticated", "exp": tokens.now() + 3600})
    with tempfile.TemporaryDirectory(prefix="bench-storage-") as raw:
        tmp = Path(raw)
        disk = tmp / "disk"
        disk.mkdir()
        with postgres(tmp, schema=SCHEMA) as dsn, gateway(dsn, tmp) as (url, _):
            wait_http(f"{url}/rest/v1/bench_items?limit=1", headers={"apikey": SETTINGS.anon_key})
            reference = cpu_reference_ms()
            figures = [
                f
                for label, (size, count) in SIZES.items()
                for f in _size_figures(url, token, user, disk, label, size, count)
            ]
            figures += [_signed(url, token, user), _rest(url)]
    section = Section("Storage", figures, notes=[f"CPU reference loop: {reference:.0f} ms"])
    by_name = {f.name: f for f in figures}
    for label, (size, _) in SIZES.items():
        for verb, disk_verb, how in (
            ("upload", "write", "gateway"),
            ("download", "read", "gateway"),
            ("download", "read", "gateway, bare socket client"),
        ):
            ours = _throughput(size, by_name[f"{verb} {label}: {how}"])
            base = _throughput(size, by_name[f"{disk_verb} {label}: disk"])
            section.ratios[f"{verb} {label}: {how} / disk ({ours:,.0f} / {base:,.0f} MB/s)"] = ours / base
            verdict = "met" if ours / base >= TARGET else "missed"
            section.targets[f"{verb} {label} ({how}) >= {TARGET}x disk"] = f"{verdict} ({ours / base:.2f}x)"
    for label in SIZES:
        budget = by_name[f"write {label}: disk"].p50_ms / TARGET
        md5 = by_name[f"MD5 {label}: the eTag alone"].p50_ms
        read_budget = by_name[f"read {label}: disk"].p50_ms / TARGET
        select = by_name["select 1 row: supabase-py → gateway"].p50_ms
        section.notes.append(
            f"{label}: at {TARGET}x the disk's throughput an upload may take {budget:.2f} ms; hashing its bytes for"
            f" the eTag alone takes {md5:.2f} ms (storage-api's file backend hashes every upload too). A download"
            f" may take {read_budget:.2f} ms; a one-row REST select takes {select:.2f} ms"
        )
    section.notes.append(
        "The disk side writes to and reads from the page cache (no fsync, a just-written file): a memory copy"
        " in this process. The gateway's side crosses HTTP on loopback to another process, and its figures"
        " through supabase-py include the client's own request building and parsing."
    )
    return section
