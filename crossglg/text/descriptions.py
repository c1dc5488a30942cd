"""Description files: per class a global text and 25 joint texts written by a language model.

A file (``resources/descriptions/<class list>.json``, schema ``crossglg.descriptions/v1``) is the
training-time text side of CrossGLG. Loading checks it completely, because a wrong joint order or a
missing class would silently teach the model the wrong thing; errors name the file, class and field.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crossglg.io import atomic_write_json
from crossglg.paths import resource_path
from crossglg.skeleton import NTU25_JOINTS
from crossglg.text.lexicon import PART_TO_JOINTS, emphasised_parts, joint_targets, key_joints

SCHEMA = "crossglg.descriptions/v1"
DESCRIPTIONS_DIR = resource_path("descriptions")
_LM_FIELDS = ("name", "how", "date")


@dataclass(frozen=True)
class ClassDescription:
    id: int
    name: str
    global_text: str
    joints: tuple[str, ...]  # 25 texts in NTU-25 order

    def joint_text(self, joint: str) -> str:
        return self.joints[NTU25_JOINTS.index(joint)]

    def targets(self, smoothing: float | None = None):
        """Key-joint target distribution of this class (see ``lexicon.joint_targets``)."""
        if smoothing is None:
            return joint_targets(self.global_text)
        return joint_targets(self.global_text, smoothing)


@dataclass(frozen=True)
class Descriptions:
    class_list: str
    classes: list[ClassDescription]
    prompts: dict[str, str]
    language_model: dict[str, str]
    classes_file: str = ""
    source: str = ""
    _by_id: dict[int, ClassDescription] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {c.id: c for c in self.classes})

    def __len__(self) -> int:
        return len(self.classes)

    def by_id(self, class_id: int) -> ClassDescription:
        try:
            return self._by_id[class_id]
        except KeyError:
            raise KeyError(f"{self.class_list}: no description for class id {class_id}") from None

    def by_name(self, name: str) -> ClassDescription:
        for c in self.classes:
            if c.name == name:
                return c
        raise KeyError(f"{self.class_list}: no description for class {name!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "class_list": self.class_list,
            "classes_file": self.classes_file,
            "language_model": dict(self.language_model),
            "prompts": dict(self.prompts),
            "classes": [
                {
                    "id": c.id,
                    "name": c.name,
                    "global": c.global_text,
                    "joints": dict(zip(NTU25_JOINTS, c.joints, strict=True)),
                }
                for c in self.classes
            ],
        }


# ---------------------------------------------------------------------------------------------- class lists


def read_class_list(path: str | os.PathLike) -> list[tuple[int, str]]:
    """``id<TAB>name`` lines (1-based ids) -> [(id, name)]; errors name the file and line."""
    path = Path(path)
    rows: list[tuple[int, str]] = []
    seen: set[int] = set()
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 2 or not parts[1].strip():
            raise ValueError(f"{path}:{lineno}: expected 'id<TAB>name', got {line!r}")
        try:
            class_id = int(parts[0])
        except ValueError:
            raise ValueError(f"{path}:{lineno}: class id {parts[0]!r} is not an integer") from None
        if class_id in seen:
            raise ValueError(f"{path}:{lineno}: class id {class_id} appears twice")
        seen.add(class_id)
        rows.append((class_id, parts[1].strip()))
    if not rows:
        raise ValueError(f"{path}: no classes")
    return rows


# ---------------------------------------------------------------------------------------------- validation


def resolve_classes_file(name: str) -> Path | None:
    """A file's ``classes_file`` (repo-relative, e.g. resources/classes/x.tsv) from the cwd, else from the
    packaged resources."""
    parts = Path(name).parts
    for candidate in (Path.cwd() / name, resource_path(*parts[1:]) if parts[:1] == ("resources",) else None):
        if candidate is not None and candidate.is_file():
            return candidate
    return None


def validate_class(entry: Any, where: str) -> list[str]:
    """Problems of one class entry (``where`` prefixes every message, e.g. 'class 3')."""
    if not isinstance(entry, dict):
        return [f"{where}: expected an object, got {type(entry).__name__}"]
    problems: list[str] = []
    for key in entry:
        if key not in ("id", "name", "global", "joints"):
            problems.append(f"{where}: unknown field {key!r}")
    if not isinstance(entry.get("id"), int) or isinstance(entry.get("id"), bool):
        problems.append(f"{where}: field 'id' must be an integer, got {entry.get('id')!r}")
    if not isinstance(entry.get("name"), str) or not entry["name"].strip():
        problems.append(f"{where}: field 'name' is missing or empty")
    text = entry.get("global")
    if not isinstance(text, str) or not text.strip():
        problems.append(f"{where}: field 'global' is missing or empty")
    else:
        parts = emphasised_parts(text)
        if not parts:
            problems.append(f"{where}: field 'global' emphasises no body part (mark them like **right arm**)")
        for part in parts:
            if part not in PART_TO_JOINTS:
                problems.append(f"{where}: field 'global' emphasises {part!r}, not in the body-part lexicon")
        if text.count("**") % 2:
            problems.append(f"{where}: field 'global' has an unpaired '**'")
    joints = entry.get("joints")
    if not isinstance(joints, dict):
        problems.append(f"{where}: field 'joints' must be an object mapping the 25 NTU joint names to texts")
        return problems
    for name in joints:
        if name not in NTU25_JOINTS:
            problems.append(f"{where}: field 'joints' has unknown joint name {name!r}")
    for name in NTU25_JOINTS:
        value = joints.get(name)
        if value is None:
            problems.append(f"{where}: field 'joints' lacks joint {name!r}")
        elif not isinstance(value, str) or not value.strip():
            problems.append(f"{where}: field 'joints.{name}' is empty or not text")
    if not problems and list(joints) != list(NTU25_JOINTS):
        problems.append(f"{where}: field 'joints' is not in NTU-25 order")
    return problems


def validate_descriptions(obj_or_path: Any, classes_file: str | os.PathLike | None = None) -> list[str]:
    """All problems of a description file, dict or :class:`Descriptions` (empty list = valid).

    With ``classes_file`` (or the file's own ``classes_file`` when it can be found) every class of the
    list must be present with the same name and no other class may appear.
    """
    if isinstance(obj_or_path, Descriptions):
        data = obj_or_path.to_dict()
    elif isinstance(obj_or_path, dict):
        data = obj_or_path
    else:
        try:
            data = _read_json(Path(obj_or_path))
        except ValueError as err:
            return [str(err)]
    if not isinstance(data, dict):
        return [f"top level must be an object, got {type(data).__name__}"]
    problems: list[str] = []
    if data.get("schema") != SCHEMA:
        problems.append(f"field 'schema' must be {SCHEMA!r}, got {data.get('schema')!r}")
    if not isinstance(data.get("class_list"), str) or not data["class_list"]:
        problems.append("field 'class_list' is missing or empty")
    lm = data.get("language_model")
    if not isinstance(lm, dict):
        problems.append("field 'language_model' must be an object with name, how, date")
    else:
        for key in _LM_FIELDS:
            if not isinstance(lm.get(key), str) or not lm[key].strip():
                problems.append(f"field 'language_model.{key}' is missing or empty")
    prompts = data.get("prompts")
    if not isinstance(prompts, dict):
        problems.append("field 'prompts' must be an object with 'global' and 'joints'")
    else:
        for key in ("global", "joints"):
            value = prompts.get(key)
            if not isinstance(value, str) or "{action}" not in value or "{joints}" not in value:
                problems.append(f"field 'prompts.{key}' must be a template with {{action}} and {{joints}}")
    classes = data.get("classes")
    if not isinstance(classes, list) or not classes:
        problems.append("field 'classes' must be a non-empty list")
        return problems
    ids: Counter[int] = Counter()
    for index, entry in enumerate(classes):
        class_id = entry.get("id") if isinstance(entry, dict) else None
        where = f"class {class_id}" if isinstance(class_id, int) else f"classes[{index}]"
        problems.extend(validate_class(entry, where))
        if isinstance(class_id, int):
            ids[class_id] += 1
    problems.extend(f"class {i}: id appears {n} times" for i, n in ids.items() if n > 1)

    tsv = Path(classes_file) if classes_file else None
    if tsv is None and isinstance(data.get("classes_file"), str) and data["classes_file"]:
        tsv = resolve_classes_file(data["classes_file"])
    if tsv is not None:
        try:
            expected = dict(read_class_list(tsv))
        except (OSError, ValueError) as err:
            return problems + [f"classes file: {err}"]
        entries = [e for e in classes if isinstance(e, dict) and isinstance(e.get("id"), int)]
        names = {e["id"]: e.get("name") for e in entries}
        for class_id, name in expected.items():
            if class_id not in names:
                problems.append(f"class {class_id} ({name!r}) of {tsv} is missing")
            elif names[class_id] != name:
                problems.append(f"class {class_id}: field 'name' is {names[class_id]!r}, {tsv} says {name!r}")
        for class_id in names:
            if class_id not in expected:
                problems.append(f"class {class_id}: not in {tsv}")
    return problems


# ---------------------------------------------------------------------------------------------- load / save


def _read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ValueError(f"{path}: cannot read: {err}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}:{err.lineno}:{err.colno}: invalid JSON: {err.msg}") from None


def from_dict(data: dict[str, Any], source: str = "") -> Descriptions:
    """Build :class:`Descriptions` from an already validated dict."""
    return Descriptions(
        class_list=data["class_list"],
        classes=[
            ClassDescription(
                id=e["id"],
                name=e["name"],
                global_text=e["global"],
                joints=tuple(e["joints"][name] for name in NTU25_JOINTS),
            )
            for e in data["classes"]
        ],
        prompts=dict(data["prompts"]),
        language_model=dict(data["language_model"]),
        classes_file=data.get("classes_file", ""),
        source=source,
    )


def load_descriptions(path: str | os.PathLike, classes_file: str | os.PathLike | None = None) -> Descriptions:
    """Read and fully validate a description file; raises ValueError listing every problem."""
    path = Path(path)
    data = _read_json(path)
    problems = validate_descriptions(data, classes_file)
    if problems:
        shown = "\n  ".join(problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise ValueError(f"{path}: {len(problems)} problem(s):\n  {shown}{more}")
    return from_dict(data, source=str(path))


def descriptions_for(class_list_name: str) -> Descriptions:
    """The shipped descriptions of a class list, e.g. ``descriptions_for("ntu120")``."""
    path = DESCRIPTIONS_DIR / f"{class_list_name}.json"
    if not path.is_file():
        known = sorted(p.stem for p in DESCRIPTIONS_DIR.glob("*.json"))
        raise FileNotFoundError(f"no descriptions for {class_list_name!r} at {path}; known: {known}")
    return load_descriptions(path)


def save_descriptions(data: Descriptions | dict[str, Any], path: str | os.PathLike) -> None:
    """Write atomically (temp file + rename) so an interrupted run never leaves a half-written file."""
    if isinstance(data, Descriptions):
        data = data.to_dict()
    atomic_write_json(path, data)


# ---------------------------------------------------------------------------------------------- statistics


@dataclass(frozen=True)
class DuplicateStats:
    """How often joint texts repeat across classes (still joints may share; moving ones should not)."""

    entries: int  # classes x 25
    shared_entries: int  # (class, joint) texts identical to the same joint's text in another class
    distinct_texts: int
    most_common: list[tuple[str, int]]
    duplicate_globals: int
    key_entries: int = 0  # (class, joint) pairs whose joint is emphasised in the class's global text
    key_shared_entries: int = 0  # of those, texts identical to the same joint's text in another class

    @property
    def shared_fraction(self) -> float:
        return self.shared_entries / self.entries if self.entries else 0.0

    @property
    def key_shared_fraction(self) -> float:
        return self.key_shared_entries / self.key_entries if self.key_entries else 0.0


def duplicate_stats(descriptions: Descriptions, top: int = 5) -> DuplicateStats:
    per_joint = [Counter(c.joints[j] for c in descriptions.classes) for j in range(len(NTU25_JOINTS))]
    shared = sum(n for counter in per_joint for n in counter.values() if n > 1)
    all_texts = Counter(t for c in descriptions.classes for t in c.joints)
    globals_ = Counter(c.global_text for c in descriptions.classes)
    key = [(c, j) for c in descriptions.classes for j in key_joints(c.global_text)]
    return DuplicateStats(
        entries=len(descriptions.classes) * len(NTU25_JOINTS),
        shared_entries=shared,
        distinct_texts=len(all_texts),
        most_common=all_texts.most_common(top),
        duplicate_globals=sum(n for n in globals_.values() if n > 1),
        key_entries=len(key),
        key_shared_entries=sum(1 for c, j in key if per_joint[j][c.joints[j]] > 1),
    )
