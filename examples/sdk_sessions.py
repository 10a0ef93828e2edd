"""The vendors' own SDKs, unmodified, exporting from a live ``labelport serve``.

    .venv/bin/python examples/sdk_sessions.py

Builds the demo catalog in a temporary home, starts gcp-storage-emulator and ``labelport serve``
on free 127.0.0.1 ports, then runs the Vertex AI SDK (``google-cloud-aiplatform``), the
Diffgram SDK and the Labelbox SDK against it and prints what they get back. Nothing leaves the
machine.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def labelport(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [str(BIN / "labelport"), *args], env=env, check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="labelport-sdk-"))
    env = {**os.environ, "LABELPORT_HOME": str(home)}
    print(f"$ labelport demo            (home {home})")
    labelport(env, "demo")
    key = labelport(env, "keys", "create", "--org", "demo", "--email", "sdk@demo.test")
    print("$ labelport keys create --org demo --email sdk@demo.test   -> lp_…")

    gcs_port, port = free_port(), free_port()
    gcs = f"http://127.0.0.1:{gcs_port}"
    emulator = subprocess.Popen(
        [
            *(str(BIN / "gcp-storage-emulator"), "start", "--host", "127.0.0.1"),
            *("--port", str(gcs_port), "--in-memory", "--default-bucket", "bkt"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server_env = {**env, "LABELPORT_GCS_ENDPOINT": gcs}
    server = subprocess.Popen(
        [str(BIN / "labelport"), "serve", "--port", str(port), "--log-level", "warning"],
        env=server_env,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{url}/health")
        wait_for(f"{gcs}/storage/v1/b")
        print(f"$ LABELPORT_GCS_ENDPOINT={gcs} labelport serve --port {port}\n")
        vertex_session(url, gcs, key)
        diffgram_session(url, key)
        labelbox_session(url, key)
    finally:
        server.terminate()
        emulator.terminate()
        server.wait(timeout=30)
        emulator.wait(timeout=30)


def vertex_session(url: str, gcs: str, key: str) -> None:
    os.environ["NO_GCE_CHECK"] = "True"
    os.environ["GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT"] = "false"
    import gcsfs
    import google.oauth2.credentials
    from google.api_core import exceptions
    from google.cloud import aiplatform

    print("== google-cloud-aiplatform", aiplatform.__version__)
    aiplatform.init(
        project="demo",
        location="us-central1",
        api_endpoint=f"{url}/vertex",
        api_transport="rest",
        credentials=google.oauth2.credentials.Credentials(token=key),
    )
    (flowers,) = aiplatform.ImageDataset.list(filter='displayName="flowers"')
    print(">>> aiplatform.ImageDataset.list(filter='displayName=\"flowers\"')")
    print(f"    {flowers.resource_name}  display_name={flowers.display_name!r}")
    files = flowers.export_data("gs://bkt/exports")
    print('>>> flowers.export_data("gs://bkt/exports")')
    for name in files:
        print(f"    {name}")
    fs = gcsfs.GCSFileSystem(endpoint_url=gcs, token="anon")
    lines = fs.cat(files[0]).decode().splitlines()
    print(f"    {len(lines)} lines; the first: {lines[0]}")
    result = flowers.export_data_for_custom_training(
        "gs://bkt/training",
        annotation_schema_uri=(
            "gs://google-cloud-aiplatform/schema/dataset/annotation/image_classification_1.0.0.yaml"
        ),
        split={"training_fraction": 0.8, "validation_fraction": 0.1, "test_fraction": 0.1},
    )
    print(">>> flowers.export_data_for_custom_training('gs://bkt/training', …, split=80/10/10)")
    print("    " + json.dumps(result, indent=2).replace("\n", "\n    "))
    for pattern in result["exportedFiles"]:
        found = fs.glob(pattern)
        count = sum(len(fs.cat(f).splitlines()) for f in found)
        print(f"    {pattern}: {len(found)} file(s), {count} lines")
    request = urllib.request.Request(
        f"{url}/api/v1/datasets",
        data=json.dumps({"name": "sales", "kind": "tabular"}).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as answer:
        sales = json.load(answer)["id"]
    print(">>> aiplatform.TabularDataset(SALES_ID).export_data('gs://bkt/tabular')")
    try:
        aiplatform.TabularDataset(sales).export_data("gs://bkt/tabular")
    except exceptions.FailedPrecondition as exc:
        print(f"    google.api_core.exceptions.FailedPrecondition: {exc}")
    print()


def diffgram_session(url: str, key: str) -> None:
    from diffgram import Project

    key_id, secret = key.removeprefix("lp_").split("_", 1)
    with urllib.request.urlopen(
        urllib.request.Request(
            f"{url}/api/v1/projects?limit=1", headers={"Authorization": f"Bearer {key}"}
        )
    ) as answer:
        project = json.load(answer)["items"][0]
    with urllib.request.urlopen(
        urllib.request.Request(
            f"{url}/api/v1/projects/{project['id']}/batches",
            headers={"Authorization": f"Bearer {key}"},
        )
    ) as answer:
        batch = json.load(answer)["items"][0]
    print("== diffgram", importlib.metadata.version("diffgram"))
    print(
        f">>> Project(project_string_id={project['id']!r}, client_id=KEY_ID, "
        f'client_secret=SECRET, host="{url}/diffgram")'
    )
    sdk = Project(
        project_string_id=project["id"],
        client_id=key_id,
        client_secret=secret,
        host=f"{url}/diffgram",
    )
    job = sdk.job.get_by_id(batch["id"])
    print(f">>> job = project.job.get_by_id({batch['id']!r})   # batch {batch['name']!r}")
    data = job.generate_export(return_type="data")
    files = [k for k in data if k.isdigit()]
    info = data["export_info"]
    print(">>> data = job.generate_export(return_type='data')")
    print(f"    export_info.file_list_length = {info['file_list_length']}, packets = {len(files)}")
    print(f"    export_info.check_values = {json.dumps(info['check_values'])}")
    complete = job.generate_export(return_type="data", ann_is_complete=True)
    print(">>> job.generate_export(return_type='data', ann_is_complete=True)")
    print(f"    file_list_length = {complete['export_info']['file_list_length']} (Done only)")
    link = job.generate_export(return_type="url")
    print(">>> job.generate_export(return_type='url')")
    print(f"    {link[:100]}…")
    export = job.generate_export(wait_for_export_generation=False)
    print(">>> export = job.generate_export(wait_for_export_generation=False)")
    print(f"    export.status = {export.status!r}")
    for _ in range(100):
        try:
            again = export.access_data(return_type="data")
            break
        except Exception as exc:  # "Export not ready yet." while it runs
            print(f"    access_data -> {str(exc)[:80]}…")
            time.sleep(0.2)
    print(">>> export.access_data(return_type='data')")
    print(f"    file_list_length = {again['export_info']['file_list_length']}")
    listed = sdk.export.list()
    print(f">>> project.export.list() -> {len(listed)} exports")


def labelbox_session(url: str, key: str) -> None:
    import labelbox as lb

    print("\n== labelbox", importlib.metadata.version("labelbox"))
    RESULT = lb.StreamType.RESULT
    client = lb.Client(api_key=key, endpoint=f"{url}/graphql", rest_endpoint=f"{url}/api/v1")
    print(f'>>> client = lb.Client(api_key=KEY, endpoint="{url}/graphql", rest_endpoint=…)')
    with urllib.request.urlopen(
        urllib.request.Request(
            f"{url}/api/v1/projects?limit=1", headers={"Authorization": f"Bearer {key}"}
        )
    ) as answer:
        project_id = json.load(answer)["items"][0]["id"]
    project = client.get_project(project_id)
    print(f">>> project = client.get_project({project_id!r})")
    print(f"    {project.name!r}, media type {project.media_type}")
    task = project.export(
        params={"label_details": True, "project_details": True, "performance_details": True},
        filters={"workflow_status": "Done"},
    )
    print(
        '>>> task = project.export(params={"label_details": True, "project_details": True, '
        '"performance_details": True}, filters={"workflow_status": "Done"})'
    )
    task.wait_till_done()
    print(f">>> task.wait_till_done(); task.status -> {task.status!r}")
    print(
        f"    has_result={task.has_result()} has_errors={task.has_errors()} "
        f"lines={task.get_total_lines(RESULT)} bytes={task.get_total_file_size(RESULT)}"
    )
    rows = [output.json for output in task.get_buffered_stream()]
    first = rows[0]
    status = first["projects"][project_id]["project_details"]["workflow_status"]
    print(f">>> rows = [o.json for o in task.get_buffered_stream()] -> {len(rows)} rows")
    print(f"    rows[0]: data_row.id={first['data_row']['id']!r}, workflow_status={status!r}")
    catalog = client.get_catalog().export(
        params={"data_row_details": True, "all_projects": True},
        filters={"last_activity_at": ["2000-01-01", None]},
    )
    catalog.wait_till_done()
    print(
        '>>> client.get_catalog().export(params={"data_row_details": True, "all_projects": True},'
        ' filters={"last_activity_at": ["2000-01-01", None]})'
    )
    print(
        f"    {catalog.get_total_lines(RESULT)} rows, {catalog.get_total_file_size(RESULT):,} bytes"
    )
    from lbox.exceptions import MalformedQueryException

    try:
        project.export(filters={"batch_ids": ["cnotabatch0000000000000000"]})
    except MalformedQueryException as exc:
        print(">>> project.export(filters={'batch_ids': ['cnotabatch…']})")
        print(f"    lbox.exceptions.MalformedQueryException: {str(exc)[:120]}")


if __name__ == "__main__":
    main()
