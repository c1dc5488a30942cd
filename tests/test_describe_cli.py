"""crossglg-describe against a real HTTP server on loopback answering like an OpenAI-compatible endpoint."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from crossglg.cli.describe import ChatClient, generate, main, parse_joint_reply
from crossglg.skeleton import NTU25_JOINTS
from crossglg.text.descriptions import DESCRIPTIONS_DIR, load_descriptions

REPO = Path(__file__).resolve().parents[1]


class FakeEndpoint:
    """Serves /v1/chat/completions; replies are built from the action named in the prompt.

    ``bad`` maps (action, kind) to how many bad replies to give before good ones, ``fail_on`` names an
    action whose requests get HTTP 500 (to interrupt a run).
    """

    def __init__(self, bad=None, fail_on=None):
        self.bad = dict(bad or {})
        self.fail_on = fail_on
        self.requests: list[dict] = []
        self.auth: list[str | None] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                endpoint.requests.append(body)
                endpoint.auth.append(self.headers.get("Authorization"))
                status, reply = endpoint.reply(self.path, body)
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def reply(self, path, body):
        if path != "/v1/chat/completions":
            return 404, {"error": {"message": f"no route {path}"}}
        prompt = body["messages"][1]["content"]
        action = re.search(r'the action "([^"]+)"', prompt).group(1)
        kind = "joints" if "25 body joints" in prompt else "global"
        if action == self.fail_on:
            return 500, {"error": {"message": "server overloaded"}}
        if self.bad.get((action, kind), 0) > 0:
            self.bad[(action, kind)] -= 1
            content = "Sure! Here you go." if kind == "global" else json.dumps({"head": "nods"})
        elif kind == "global":
            content = f"To {action}, the person moves the **right arm** and bends the **knees**."
        else:
            obj = {name: f"During {action} the {name} moves its own way." for name in NTU25_JOINTS}
            content = "```json\n" + json.dumps(obj, indent=1) + "\n```"
        return 200, {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "model": body["model"],
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
            ],
        }

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def actions(self) -> list[str]:
        prompts = [r["messages"][1]["content"] for r in self.requests]
        return [re.search(r'the action "([^"]+)"', p).group(1) for p in prompts]


@pytest.fixture
def classes(tmp_path) -> Path:
    tsv = tmp_path / "toy.tsv"
    tsv.write_text("1\twave\n2\tclap\n3\tbow\n", encoding="utf-8")
    return tsv


def test_generate_retries_bad_replies_and_validates(tmp_path, classes):
    out = tmp_path / "toy.json"
    with FakeEndpoint(bad={("clap", "joints"): 1, ("bow", "global"): 1}) as server:
        client = ChatClient(server.base_url, "toy-model", api_key="sk-test")
        logs: list[str] = []
        generate(classes, out, client, retries=2, backoff=0, log=logs.append)
    assert any("class 2 (clap) joints: bad reply" in m and "missing joints" in m for m in logs)
    assert any("class 3 (bow) global: bad reply" in m and "asterisks" in m for m in logs)
    # 3 classes x 2 prompts + 2 retried replies; the retry carries the rejection back to the model
    assert len(server.requests) == 8
    retried = [r for r in server.requests if len(r["messages"]) == 4]
    assert len(retried) == 2 and "rejected" in retried[0]["messages"][3]["content"]
    assert set(server.auth) == {"Bearer sk-test"}
    assert all(r["model"] == "toy-model" and "temperature" in r for r in server.requests)
    desc = load_descriptions(out, classes)
    assert [c.name for c in desc.classes] == ["wave", "clap", "bow"]
    assert desc.by_id(2).joint_text("left thumb") == "During clap the left thumb moves its own way."
    assert desc.language_model["name"] == "toy-model"


def test_generate_gives_up_after_retries(tmp_path, classes):
    with FakeEndpoint(bad={("wave", "global"): 5}) as server:
        client = ChatClient(server.base_url, "toy-model")
        with pytest.raises(RuntimeError, match=r"class 1 \(wave\) global: no valid reply after 2 attempts"):
            generate(classes, tmp_path / "x.json", client, retries=1, backoff=0, log=lambda m: None)
    assert not (tmp_path / "x.json").exists()


def test_generate_resumes_keeping_described_classes(tmp_path, classes, capsys):
    out = tmp_path / "toy.json"
    with FakeEndpoint(fail_on="bow") as server:
        code = main(
            [
                "--classes",
                str(classes),
                "--out",
                str(out),
                "--base-url",
                server.base_url,
                "--model",
                "toy-model",
                "--retries",
                "1",
                "--backoff",
                "0",
            ]
        )
    assert code == 1
    assert "HTTP 500" in capsys.readouterr().err
    partial = json.loads(out.read_text(encoding="utf-8"))
    assert [c["id"] for c in partial["classes"]] == [1, 2]  # written after each class
    partial["classes"][0]["global"] = "Kept: the **right hand** waves."  # marks the kept entry
    out.write_text(json.dumps(partial), encoding="utf-8")

    with FakeEndpoint() as server:
        code = main(
            [
                "--classes",
                str(classes),
                "--out",
                str(out),
                "--base-url",
                server.base_url,
                "--model",
                "toy-model",
                "--backoff",
                "0",
            ]
        )
    assert code == 0
    assert server.actions() == ["bow", "bow"]  # only the missing class was asked for
    desc = load_descriptions(out, classes)
    assert desc.by_id(1).global_text == "Kept: the **right hand** waves."
    assert len(desc) == 3


def test_env_configuration_and_missing_endpoint(tmp_path, classes, monkeypatch, capsys):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_MODEL", raising=False)
    assert main(["--classes", str(classes), "--out", str(tmp_path / "o.json")]) == 1
    assert "OPENAI_BASE_URL" in capsys.readouterr().err
    with FakeEndpoint() as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_MODEL", "env-model")
        monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
        assert main(["--classes", str(classes), "--out", str(tmp_path / "o.json"), "--backoff", "0"]) == 0
    assert server.requests[0]["model"] == "env-model" and server.auth[0] == "Bearer sk-env"


def test_joint_reply_parsing():
    obj = {name.upper().replace(" ", "_"): "moves" for name in NTU25_JOINTS}
    assert list(parse_joint_reply("Here:\n" + json.dumps(obj) + "\nDone.")) == list(NTU25_JOINTS)
    with pytest.raises(ValueError, match="not valid JSON"):
        parse_joint_reply("```json\n{oops\n```")
    with pytest.raises(ValueError, match="unknown joint names \\['tail'\\]"):
        parse_joint_reply(json.dumps({**{n: "x" for n in NTU25_JOINTS}, "tail": "wags"}))


def test_check_command(capsys):
    path = DESCRIPTIONS_DIR / "msr_action3d.json"
    assert (
        main(
            [
                "check",
                str(path),
                "--classes",
                str(REPO / "resources/classes/msr_action3d.tsv"),
                "--show-targets",
                "1",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "ok, 20 classes x 25 joints (all classes of" in out
    assert re.search(r"duplicate joint texts: \d+/500 = [\d.]+%", out)
    assert re.search(r"\* right elbow\s+0\.\d{4}", out)


def test_check_reports_problems(tmp_path, capsys):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"schema": "crossglg.descriptions/v1", "classes": []}), encoding="utf-8")
    assert main(["check", str(path)]) == 1
    assert "field 'classes' must be a non-empty list" in capsys.readouterr().out
