"""verify-labels with Label Studio: suspects become a project, people answer, their labels replace the wrong ones."""

import json
import threading
import time

import pytest
import requests
from kfp import local
from labelloop.components.backends import label_studio as ls
from labelloop.components.core import manifest as mf
from labelloop.components.core import versions
from labelloop.components.core.labeling_job import parse_job_spec
from labelloop.pipelines.verify_labels import build_pipeline
from test_label_studio import answering

pytestmark = [pytest.mark.labelstudio, pytest.mark.slow]

POSITIVE = ("great", "loved", "wonderful", "superb", "brilliant", "delightful")
NEGATIVE = ("awful", "boring", "terrible", "dull", "dreadful", "tedious")
NOUNS = ("film", "plot", "cast", "script", "ending")
WRONG = (0, 7, 13, 31, 44, 52)  # items given the other label


def reviews() -> dict[str, str]:
    """60 short reviews and their true label."""
    truth = {}
    for i in range(60):
        positive = i % 2 == 0
        adjective = (POSITIVE if positive else NEGATIVE)[(i // 2) % 6]
        truth[f"a {adjective} {NOUNS[i % 5]}, review {i}"] = "pos" if positive else "neg"
    return truth


class Reviewers(threading.Thread):
    """Annotators answering every task of the project titled ``title`` with the true label."""

    def __init__(self, url, admin_token, tokens, title, truth):
        super().__init__(daemon=True)
        self.url, self.admin, self.tokens, self.title, self.truth = url, _auth(admin_token), tokens, title, truth
        self.ids = {
            requests.get(f"{url}/api/current-user/whoami", headers=_auth(t), timeout=10).json()["id"]: e
            for e, t in tokens.items()
        }
        self.stop = threading.Event()

    def run(self):
        deadline = time.monotonic() + 180
        while not self.stop.is_set() and time.monotonic() < deadline:
            self._work_once()
            self.stop.wait(0.3)

    def _work_once(self):
        projects = requests.get(f"{self.url}/api/projects", headers=self.admin, params={"page_size": 100}, timeout=10)
        project = next((p for p in projects.json()["results"] if p["title"] == self.title), None)
        if project is None:
            return
        tasks = requests.get(
            f"{self.url}/api/tasks",
            headers=self.admin,
            params={"project": project["id"], "fields": "all", "page_size": 100},
            timeout=10,
        ).json()["tasks"]
        for task in tasks:
            done = {a if isinstance(a, int) else a["id"] for a in task.get("annotators", [])}
            needed = task["overlap"] - task["total_annotations"]
            for user_id, email in self.ids.items():
                if needed <= 0 or user_id in done:
                    continue
                answer = self.truth[task["data"]["text"]]
                result = [{"from_name": "label", "to_name": "item", "type": "choices", "value": {"choices": [answer]}}]
                requests.post(
                    f"{self.url}/api/tasks/{task['id']}/annotations",
                    headers=_auth(self.tokens[email]),
                    json={"result": result},
                    timeout=10,
                ).raise_for_status()
                needed -= 1


def _auth(token):
    return {"Authorization": f"Token {token}"}


def test_verify_labels_with_label_studio_corrects_the_planted_wrong_labels(
    label_studio_server, annotators, tmp_path, monkeypatch
):
    monkeypatch.setenv("LABEL_STUDIO_URL", label_studio_server.url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", label_studio_server.token)
    truth = reviews()
    texts = list(truth)
    given = {t: ({"pos": "neg", "neg": "pos"}[truth[t]] if i in WRONG else truth[t]) for i, t in enumerate(texts)}
    records = [
        mf.with_label(mf.with_id({"textContent": t}, mf.content_id(t)), given[t], source="vendor") for t in texts
    ]
    mf.write_jsonl(str(tmp_path / "labeled.jsonl"), records)
    spec = json.dumps(
        {
            "displayName": "verify review labels",
            "labelerCount": 2,
            "instructionUri": "https://example.test/guide.pdf",
            "inputsSchemaUri": "gs://google-cloud-aiplatform/schema/datalabelingjob/inputs/text_classification_1.0.0.yaml",
            "inputs": {"annotationSpecs": [{"displayName": "pos"}, {"displayName": "neg"}]},
            "labelloop": {"pollIntervalSeconds": 0.3, "timeoutSeconds": 150, "adaptive": {"enabled": False}},
        }
    )
    title = ls.LabelStudioLabeler(parse_job_spec(spec), None, None).title
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "root"))
    with answering(Reviewers(label_studio_server.url, label_studio_server.token, annotators, title, truth)):
        build_pipeline("local")(
            source_uri=str(tmp_path / "labeled.jsonl"),
            data_type="text",
            task="text_classification",
            store_uri=str(tmp_path / "versions"),
            annotation_store_uri=str(tmp_path / "annotations"),
            dataset_name="reviews",
            labeling_job_spec=spec,
            labeling_backend="label_studio",
        )
    after = {
        r["textContent"]: r
        for r in mf.read_jsonl(versions.get_version(str(tmp_path / "versions"), "reviews").manifest_uri)
    }
    assert len(after) == len(texts)
    fixed = [t for i, t in enumerate(texts) if i in WRONG and mf.label_of(after[t]) == truth[t]]
    assert len(fixed) >= 5, fixed
    for text in fixed:
        assert mf.label_source_of(after[text]) == "human"
        assert mf.extra_of(after[text])["label_history"] == [{"label": given[text], "source": "vendor"}]
    unchanged = [t for t in texts if mf.label_source_of(after[t]) == "vendor"]
    assert all(mf.label_of(after[t]) == given[t] for t in unchanged) and len(unchanged) >= len(texts) - 9
