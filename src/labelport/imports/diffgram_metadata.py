"""The metadata of a Diffgram export: what every file packet needs from it.

A Diffgram export starts with ``label_map``, ``export_info`` and ``attribute_groups_reference``;
:func:`read_metadata` reads them once, before the first packet, into an :class:`Export` (the
project, its labels and attribute groups, the job of a job's export, and the ids derived from
them). Part of the Diffgram converter, :mod:`labelport.imports.diffgram`, whose docstring has the
mapping.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from labelport import ids
from labelport.imports.base import JSON, Problem
from labelport.imports.diffgram_values import as_object, as_timestamp, type_name


@dataclass(frozen=True, slots=True)
class AttributeGroup:
    """One attribute group of ``attribute_groups_reference``."""

    id: Any  # as Diffgram wrote it (an integer)
    kind: str | None
    name: str  # shown to people: the prompt, else the internal name
    value: str  # the internal name, else the prompt
    options: dict[str, str]  # option (attribute template) id -> name


@dataclass(frozen=True, slots=True)
class Export:
    """What every packet needs from the export's metadata."""

    psid: str
    project_id: str
    project_name: str
    dataset_name: str
    created_at: str | None
    created_by: str | None
    labels: dict[str, str]  # label_file_id -> label name
    groups: dict[str, AttributeGroup]
    scope: tuple[str, ...] = ()  # (org_id,): what ids of catalog entities are derived within
    job_id: str | None = None  # export_info.job.id: every file of the export is in that job
    job_name: str | None = None
    batch_id: str | None = None  # the job's batch


def read_metadata(meta: JSON, dataset: str | None, org_id: str | None) -> Export:
    info = as_object(meta["export_info"], "export_info")
    project = info.get("project")
    if not isinstance(project, dict):
        raise Problem("export_info.project", f"expected an object, got {type_name(project)}")
    psid = project.get("project_string_id")
    if not isinstance(psid, str) or not psid:
        raise Problem("export_info.project.project_string_id", "is required")
    name = project.get("name")
    if not isinstance(name, str) or not name:
        raise Problem("export_info.project.name", "is required")
    directory = info.get("directory")
    nickname = directory.get("nickname") if isinstance(directory, dict) else None
    email = info.get("user_created_email")
    if email is not None and not (isinstance(email, str) and "@" in email):
        raise Problem("export_info.user_created_email", f"not an email address: {email!r}")

    labels: dict[str, str] = {}
    for label_id, label_name in as_object(meta["label_map"], "label_map").items():
        if not isinstance(label_name, str):
            raise Problem(
                f"label_map.{label_id}", f"expected a label name, got {type_name(label_name)}"
            )
        labels[str(label_id)] = label_name

    groups: dict[str, AttributeGroup] = {}
    reference = meta["attribute_groups_reference"]
    if not isinstance(reference, list):
        raise Problem("attribute_groups_reference", f"expected a list, got {type_name(reference)}")
    for i, raw in enumerate(reference):
        path = f"attribute_groups_reference[{i}]"
        group = as_object(raw, path)
        if group.get("id") is None:
            raise Problem(f"{path}.id", "is required")
        prompt, internal = group.get("prompt"), group.get("name")
        shown = prompt if isinstance(prompt, str) and prompt else internal
        tag = internal if isinstance(internal, str) and internal else prompt
        if not isinstance(shown, str) or not isinstance(tag, str):
            raise Problem(f"{path}.prompt", "an attribute group needs a prompt or a name")
        options: dict[str, str] = {}
        for j, option in enumerate(group.get("attribute_template_list") or []):
            opath = f"{path}.attribute_template_list[{j}]"
            option = as_object(option, opath)
            if option.get("id") is None or not isinstance(option.get("name"), str):
                raise Problem(opath, "an attribute option needs an id and a name")
            options[str(option["id"])] = option["name"]
        kind = group.get("kind")
        groups[str(group["id"])] = AttributeGroup(
            group["id"], kind if isinstance(kind, str) else None, shown, tag, options
        )

    scope = (org_id,) if org_id is not None else ()
    # Only a job's export holds the job's files: Diffgram also writes the job the request named
    # into a directory or task export (the SDK's job.generate_export(source="directory") does).
    job_id, job_name = _job(info.get("job")) if info.get("source") == "job" else (None, None)
    return Export(
        psid=psid,
        scope=scope,
        project_id=ids.derived_id("diffgram-project", *scope, psid),
        project_name=name,
        dataset_name=dataset or (nickname if isinstance(nickname, str) and nickname else name),
        created_at=as_timestamp(info.get("created_time"), "export_info.created_time"),
        created_by=email,
        labels=labels,
        groups=groups,
        job_id=job_id,
        job_name=job_name,
        batch_id=None if job_id is None else ids.derived_id("diffgram-job", *scope, psid, job_id),
    )


def _job(job: Any) -> tuple[str | None, str | None]:
    """The id (as text) and name of the export's job (``source`` job), if it has one."""
    if job is None:
        return None, None
    job = as_object(job, "export_info.job")
    job_id, name = job.get("id"), job.get("name")
    if isinstance(job_id, bool) or not isinstance(job_id, int | str) or job_id == "":
        raise Problem("export_info.job.id", f"expected the job's id, got {job_id!r}")
    if name is not None and not isinstance(name, str):
        raise Problem("export_info.job.name", f"expected the job's name, got {type_name(name)}")
    return str(job_id), name or None
