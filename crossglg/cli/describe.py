"""crossglg-describe: ask an OpenAI-compatible chat endpoint for action descriptions, or check a file.

    crossglg-describe --classes resources/classes/x.tsv --out x.json [--base-url URL --model M --api-key K]
    crossglg-describe check FILE [--classes TSV] [--show-targets CLASS]

Generation is resumable: classes already present and valid in the out file are kept, and the file is
rewritten atomically after every class, so an interrupted run loses at most one class of work.
Only the standard library speaks HTTP, so the tool adds no dependency.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from crossglg.skeleton import NTU25_JOINTS
from crossglg.text.descriptions import (
    SCHEMA,
    duplicate_stats,
    from_dict,
    read_class_list,
    resolve_classes_file,
    save_descriptions,
    validate_class,
    validate_descriptions,
)
from crossglg.text.lexicon import emphasised_parts, joint_targets, key_joints
from crossglg.text.prompts import GLOBAL_PROMPT, JOINT_PROMPT, format_prompts

SYSTEM_MESSAGE = "You describe human body movement precisely and follow output instructions exactly."


class ReplyError(ValueError):
    """A reply that does not satisfy the schema; its text is sent back to the model on retry."""


class EndpointError(RuntimeError):
    pass


# ---------------------------------------------------------------------------------------------- HTTP client


class ChatClient:
    """Minimal client for ``POST {base_url}/chat/completions`` of an OpenAI-compatible server."""

    def __init__(
        self, base_url: str, model: str, api_key: str = "", temperature: float = 0.2, timeout: float = 120.0
    ) -> None:
        if not base_url:
            raise ValueError("no endpoint: pass --base-url or set OPENAI_BASE_URL")
        if not model:
            raise ValueError("no model: pass --model or set OPENAI_MODEL")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key = api_key
        self.temperature = temperature
        self.timeout = timeout

    def complete(self, messages: list[dict[str, str]]) -> str:
        body = json.dumps({"model": self.model, "messages": messages, "temperature": self.temperature})
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(self.url, data=body.encode("utf-8"), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                payload = response.read().decode("utf-8")
        except urllib.error.HTTPError as err:
            detail = err.read().decode("utf-8", "replace")[:300]
            raise EndpointError(f"{self.url}: HTTP {err.code}: {detail}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as err:
            raise EndpointError(f"{self.url}: {err}") from None
        try:
            content = json.loads(payload)["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise EndpointError(f"{self.url}: reply is not a chat completion: {payload[:300]!r}") from None
        if not isinstance(content, str):
            raise EndpointError(f"{self.url}: choices[0].message.content is not text")
        return content


# ---------------------------------------------------------------------------------------------- reply parsing


_FENCE = re.compile(r"^\s*```[a-zA-Z]*\s*\n(.*?)\n?\s*```\s*$", re.S)


def parse_global_reply(content: str) -> str:
    text = " ".join(content.strip().split())
    if not text:
        raise ReplyError("the answer is empty")
    if not emphasised_parts(text):
        raise ReplyError("no body part is marked with double asterisks")
    try:
        key_joints(text)
    except KeyError as err:
        raise ReplyError(f"{err.args[0]}") from None
    return text


def parse_joint_reply(content: str) -> dict[str, str]:
    """JSON object (optionally in a ```json fence) -> the 25 joint texts in NTU order."""
    text = content.strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1)
    elif not text.startswith("{") and "{" in text:  # prose around the object
        text = text[text.index("{") : text.rindex("}") + 1]
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as err:
        raise ReplyError(f"the answer is not valid JSON ({err.msg} at line {err.lineno})") from None
    if not isinstance(obj, dict):
        raise ReplyError("the answer must be a JSON object")
    cleaned = {" ".join(str(k).lower().replace("_", " ").split()): v for k, v in obj.items()}
    unknown = [k for k in cleaned if k not in NTU25_JOINTS]
    missing = [k for k in NTU25_JOINTS if k not in cleaned]
    empty = [k for k, v in cleaned.items() if k in NTU25_JOINTS and not (isinstance(v, str) and v.strip())]
    problems = []
    if unknown:
        problems.append(f"unknown joint names {unknown}")
    if missing:
        problems.append(f"missing joints {missing}")
    if empty:
        problems.append(f"empty sentences for {empty}")
    if problems:
        raise ReplyError("; ".join(problems))
    return {k: " ".join(cleaned[k].split()) for k in NTU25_JOINTS}


def ask(
    client: ChatClient,
    prompt: str,
    parse: Callable[[str], Any],
    retries: int,
    label: str,
    backoff: float = 1.0,
    log: Callable[[str], None] = print,
) -> Any:
    """Send a prompt; on a bad reply tell the model what was wrong and ask again, up to ``retries`` times."""
    messages = [{"role": "system", "content": SYSTEM_MESSAGE}, {"role": "user", "content": prompt}]
    last = ""
    for attempt in range(1, retries + 2):
        try:
            content = client.complete(messages)
            return parse(content)
        except ReplyError as err:
            last = str(err)
            log(f"  {label}: bad reply (attempt {attempt}/{retries + 1}): {last}")
            messages = messages[:2] + [
                {"role": "assistant", "content": content},
                {
                    "role": "user",
                    "content": f"That answer was rejected: {last}. Answer again, following the "
                    "instructions exactly.",
                },
            ]
        except EndpointError as err:
            last = str(err)
            log(f"  {label}: endpoint error (attempt {attempt}/{retries + 1}): {last}")
            messages = messages[:2]
            if attempt <= retries:
                time.sleep(backoff * attempt)
    raise RuntimeError(f"{label}: no valid reply after {retries + 1} attempts; last problem: {last}")


# ---------------------------------------------------------------------------------------------- generation


def _load_existing(out: Path, class_list: str) -> dict[str, Any] | None:
    if not out.is_file():
        return None
    try:
        data = json.loads(out.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise SystemExit(f"{out}:{err.lineno}:{err.colno}: out file is not valid JSON: {err.msg}") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise SystemExit(f"{out}: existing out file is not a {SCHEMA} file; choose another --out")
    if data.get("class_list") != class_list:
        raise SystemExit(f"{out}: holds class list {data.get('class_list')!r}, not {class_list!r}")
    return data


def generate(
    classes_file: str | os.PathLike,
    out: str | os.PathLike,
    client: ChatClient,
    retries: int = 3,
    backoff: float = 1.0,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Describe every class of ``classes_file`` into ``out``, keeping valid classes already there."""
    classes_file, out = Path(classes_file), Path(out)
    rows = read_class_list(classes_file)
    class_list = classes_file.stem
    existing = _load_existing(out, class_list)
    kept: dict[int, dict[str, Any]] = {}
    if existing:
        by_id = {e.get("id"): e for e in existing.get("classes", []) if isinstance(e, dict)}
        for class_id, name in rows:
            entry = by_id.get(class_id)
            if entry is not None and entry.get("name") == name and not validate_class(entry, "kept"):
                kept[class_id] = entry
    lm = {
        "name": client.model,
        "how": f"written by {client.model} through the OpenAI-compatible endpoint {client.url}, answering "
        "the two prompts below for each class (crossglg-describe)",
        "date": dt.date.today().isoformat(),
    }
    if existing and isinstance(existing.get("language_model"), dict) and kept:
        old = existing["language_model"]
        if old.get("name") != client.model:
            lm["name"] = f"{old.get('name')}; {client.model}"
            lm["how"] = f"{old.get('how')}; later classes: {lm['how']}"
    data: dict[str, Any] = {
        "schema": SCHEMA,
        "class_list": class_list,
        "classes_file": str(classes_file),
        "language_model": lm,
        "prompts": {"global": GLOBAL_PROMPT, "joints": JOINT_PROMPT},
        "classes": [],
    }
    log(f"{class_list}: {len(rows)} classes, {len(kept)} already described in {out}")
    for class_id, name in rows:
        if class_id in kept:
            data["classes"].append(kept[class_id])
            continue
        global_prompt, joint_prompt = format_prompts(name)
        label = f"class {class_id} ({name})"
        global_text = ask(client, global_prompt, parse_global_reply, retries, label + " global", backoff, log)
        joints = ask(client, joint_prompt, parse_joint_reply, retries, label + " joints", backoff, log)
        entry = {"id": class_id, "name": name, "global": global_text, "joints": joints}
        problems = validate_class(entry, label)
        if problems:  # parse_* already checks all of this; keep the file valid whatever happens
            raise RuntimeError("; ".join(problems))
        data["classes"].append(entry)
        data["classes"].sort(key=lambda e: e["id"])
        save_descriptions(data, out)
        log(f"  {label}: done")
    data["classes"].sort(key=lambda e: e["id"])
    save_descriptions(data, out)
    return data


# ---------------------------------------------------------------------------------------------- check


def _format_targets(global_text: str) -> str:
    targets = joint_targets(global_text)
    key = set(key_joints(global_text))
    lines = []
    for j in sorted(range(len(NTU25_JOINTS)), key=lambda j: -targets[j]):
        mark = "*" if j in key else " "
        lines.append(f"  {mark} {NTU25_JOINTS[j]:<15} {targets[j]:.4f} {'#' * round(targets[j] * 100)}")
    return "\n".join(lines)


def check(path: str, classes_file: str | None = None, show_targets: str | None = None) -> int:
    problems = validate_descriptions(path, classes_file)
    if problems:
        print(f"{path}: {len(problems)} problem(s)")
        for p in problems:
            print(f"  {p}")
        return 1
    desc = from_dict(json.loads(Path(path).read_text(encoding="utf-8")), source=path)
    stats = duplicate_stats(desc)
    tsv = classes_file or resolve_classes_file(desc.classes_file)
    against = f"all classes of {tsv} present" if tsv else "class list not found, not compared"
    lm = desc.language_model["name"]
    print(f"{path}: ok, {len(desc)} classes x 25 joints ({against}), written by {lm}")
    print(
        f"duplicate joint texts: {stats.shared_entries}/{stats.entries} = {stats.shared_fraction:.1%} of "
        f"(class, joint) texts equal the same joint's text in another class; {stats.distinct_texts} distinct "
        f"texts; {stats.duplicate_globals} global texts repeated"
    )
    print(
        f"emphasised (key) joints: {stats.key_shared_entries}/{stats.key_entries} = "
        f"{stats.key_shared_fraction:.1%} of their texts equal the same joint's text in another class"
    )
    for text, n in stats.most_common:
        if n > 1:
            print(f"  {n:4d} x {text!r}")
    if show_targets is not None:
        try:
            entry = desc.by_id(int(show_targets)) if show_targets.isdigit() else desc.by_name(show_targets)
        except KeyError as err:
            print(err.args[0], file=sys.stderr)
            return 2
        print(f"class {entry.id} ({entry.name}): {entry.global_text}")
        print(f"emphasised: {', '.join(emphasised_parts(entry.global_text))}")
        print("key-joint target distribution (* = emphasised):")
        print(_format_targets(entry.global_text))
    return 0


# ---------------------------------------------------------------------------------------------- main


def _check_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="crossglg-describe check", description="Validate a description file.")
    p.add_argument("file")
    p.add_argument("--classes", help="class list TSV every class of which must be present")
    p.add_argument("--show-targets", metavar="CLASS", help="class id or name: print its key-joint targets")
    return p


def _generate_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="crossglg-describe",
        description="Write action descriptions with an OpenAI-compatible chat endpoint "
        "(or run 'crossglg-describe check FILE').",
    )
    p.add_argument("--classes", required=True, help="class list TSV (id<TAB>name)")
    p.add_argument("--out", required=True, help="description JSON to write (resumed when it exists)")
    p.add_argument(
        "--base-url",
        default=os.environ.get("OPENAI_BASE_URL", ""),
        help="endpoint base URL, e.g. http://localhost:8000/v1 (env OPENAI_BASE_URL)",
    )
    p.add_argument("--model", default=os.environ.get("OPENAI_MODEL", ""), help="model (env OPENAI_MODEL)")
    p.add_argument("--api-key", default=os.environ.get("OPENAI_API_KEY", ""), help="key (env OPENAI_API_KEY)")
    p.add_argument("--temperature", type=float, default=0.2)
    p.add_argument("--retries", type=int, default=3, help="extra attempts per prompt after a bad reply")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per HTTP request")
    p.add_argument("--backoff", type=float, default=1.0, help="seconds x attempt to wait after an HTTP error")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "check":
        args = _check_parser().parse_args(argv[1:])
        return check(args.file, args.classes, args.show_targets)
    args = _generate_parser().parse_args(argv)
    try:
        client = ChatClient(args.base_url, args.model, args.api_key, args.temperature, args.timeout)
        generate(args.classes, args.out, client, retries=args.retries, backoff=args.backoff)
    except (ValueError, RuntimeError) as err:
        print(f"crossglg-describe: {err}", file=sys.stderr)
        return 1
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
