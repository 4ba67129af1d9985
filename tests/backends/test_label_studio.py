"""Label Studio backend against a real server: projects, imports, overlap, several annotators,
resume without duplicates, local files, a person in a browser, and a down or slow server."""

import contextlib
import http.server
import json
import socket
import threading
import time

import pytest
import requests
from kfp import dsl
from labelloop.components.backends import label_studio as ls
from labelloop.components.core import manifest as m
from labelloop.components.core.annotation_store import AnnotationStore
from labelloop.components.core.labeling_job import TaskType, parse_job_spec
from labelloop.components.core.labeling_rounds import LabelTask
from labelloop.components.label_items import label_items

SCHEMA = "gs://google-cloud-aiplatform/schema/datalabelingjob/inputs/"
TEXTS = {"good film": "pos", "awful plot": "neg", "loved it": "pos", "boring": "neg", "great cast": "pos", "meh": "neg"}


def text_job(name, labeler_count=3, **labelloop):
    return json.dumps(
        {
            "displayName": name,
            "labelerCount": labeler_count,
            "instructionUri": "https://example.test/guide.pdf",
            "inputsSchemaUri": SCHEMA + "text_classification_1.0.0.yaml",
            "inputs": {"annotationSpecs": [{"displayName": "pos"}, {"displayName": "neg"}]},
            "labelloop": {"pollIntervalSeconds": 0.3, "timeoutSeconds": 120, **labelloop},
        }
    )


def text_items(tmp_path):
    records = [{"textContent": t, "dataItemResourceLabels": {"labelloop_id": m.content_id(t)}} for t in TEXTS]
    m.write_jsonl(str(tmp_path / "items.jsonl"), records)
    return records


def artifacts(out):
    return {
        "labeled": dsl.Dataset(name="labeled", uri=str(out / "labeled.jsonl"), metadata={}),
        "annotations": dsl.Dataset(name="annotations", uri=str(out / "annotations.jsonl"), metadata={}),
        "rejects": dsl.Dataset(name="rejects", uri=str(out / "rejects.jsonl"), metadata={}),
        "report": dsl.HTML(name="report", uri=str(out / "report.html"), metadata={}),
        "metrics": dsl.Metrics(name="metrics", uri=str(out / "metrics.json"), metadata={}),
    }


@contextlib.contextmanager
def answering(people: threading.Thread):
    """``people`` (a thread of annotators with a ``stop`` event) working while the block runs."""
    people.start()
    try:
        yield people
    finally:
        people.stop.set()
        people.join(10)


class Workforce(threading.Thread):
    """Annotators working the project through the API, each with their own token, until stopped.

    Every annotator answers the true label, except ``wrong`` who always answers the other one.
    """

    def __init__(self, url, admin_token, tokens, title, wrong=None):
        super().__init__(daemon=True)
        self.url, self.admin = url, {"Authorization": f"Token {admin_token}"}
        self.tokens, self.title, self.wrong = tokens, title, wrong
        self.stop = threading.Event()
        self.ids = {
            requests.get(f"{url}/api/current-user/whoami", headers=self._auth(t), timeout=10).json()["id"]: e
            for e, t in tokens.items()
        }
        self.submitted = 0

    @staticmethod
    def _auth(token):
        return {"Authorization": f"Token {token}"}

    def run(self):
        deadline = time.monotonic() + 120
        while not self.stop.is_set() and time.monotonic() < deadline:
            self._work_once()
            self.stop.wait(0.2)

    def _work_once(self):
        projects = requests.get(
            f"{self.url}/api/projects", headers=self.admin, params={"page_size": 100}, timeout=10
        ).json()
        project = next((p for p in projects["results"] if p["title"] == self.title), None)
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
                truth = TEXTS[task["data"]["text"]]
                answer = ({"pos": "neg", "neg": "pos"}[truth]) if email == self.wrong else truth
                result = [{"from_name": "label", "to_name": "item", "type": "choices", "value": {"choices": [answer]}}]
                response = requests.post(
                    f"{self.url}/api/tasks/{task['id']}/annotations",
                    headers=self._auth(self.tokens[email]),
                    json={"result": result},
                    timeout=10,
                )
                response.raise_for_status()
                self.submitted += 1
                needed -= 1


@pytest.fixture
def ls_env(label_studio_server, monkeypatch):
    monkeypatch.setenv("LABEL_STUDIO_URL", label_studio_server.url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", label_studio_server.token)
    monkeypatch.setenv("LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT", str(label_studio_server.files_root))
    return label_studio_server


def admin_get(server, path, **params):
    response = requests.get(
        f"{server.url}{path}", headers={"Authorization": f"Token {server.token}"}, params=params, timeout=30
    )
    response.raise_for_status()
    return response.json()


@pytest.mark.labelstudio
@pytest.mark.parametrize("task_type", list(TaskType))
def test_generated_labeling_configs_are_accepted_by_label_studio(ls_env, task_type):
    client = ls.LabelStudioClient(ls_env.url, ls_env.token)
    body = {
        "title": f"config {task_type.value}"[:50],
        "label_config": ls.labeling_config(task_type, ["A & B", 'say "hi"', "c"]),
    }
    project = client.call("POST", "/api/projects", json=body)
    assert project["label_config"].startswith("<View>")
    client.call("DELETE", f"/api/projects/{project['id']}")


@pytest.mark.labelstudio
def test_three_annotators_end_to_end_then_rerun_resumes_without_duplicates(ls_env, annotators, tmp_path):
    records = text_items(tmp_path)
    spec_json = text_job("movie reviews e2e", adaptive={"enabled": False}, consensus="majority_vote")
    title = ls.LabelStudioLabeler(parse_job_spec(spec_json), None, None).title
    workforce = Workforce(ls_env.url, ls_env.token, annotators, title, wrong="annotator2@labelloop.test")
    with answering(workforce):
        out = artifacts(tmp_path / "run1")
        label_items.python_func(
            items=dsl.Dataset(name="i", uri=str(tmp_path / "items.jsonl"), metadata={}),
            job_spec=spec_json,
            annotation_store_uri=str(tmp_path / "store"),
            backend="label_studio",
            **out,
        )
    labeled = list(m.read_jsonl(out["labeled"].path))
    assert [m.label_of(r) for r in labeled] == [TEXTS[r["textContent"]] for r in records]
    assert all(m.extra_of(r)["label_confidence"] == pytest.approx(2 / 3) for r in labeled)
    metrics = out["metrics"].metadata
    assert metrics["labels_bought_this_run"] == 18 and metrics["labeling_progress"] == 100
    assert metrics["percent_agreement"] == pytest.approx(1 / 3)
    raw = list(m.read_jsonl(out["annotations"].path))
    assert len({r["labeler_id"] for r in raw}) == 3
    # re-run: the project is found again, nothing imported twice, nothing bought twice
    again = artifacts(tmp_path / "run2")
    label_items.python_func(
        items=dsl.Dataset(name="i", uri=str(tmp_path / "items.jsonl"), metadata={}),
        job_spec=spec_json,
        annotation_store_uri=str(tmp_path / "store"),
        backend="label_studio",
        **again,
    )
    assert again["metrics"].metadata["labels_bought_this_run"] == 0
    projects = [p for p in admin_get(ls_env, "/api/projects", page_size=100)["results"] if p["title"] == title]
    assert len(projects) == 1
    tasks = admin_get(ls_env, "/api/tasks", project=projects[0]["id"], page_size=100)["tasks"]
    assert len(tasks) == len(records)
    # a fresh store finds the project by its title instead of creating another one
    fresh = ls.LabelStudioLabeler(
        parse_job_spec(spec_json),
        AnnotationStore(str(tmp_path / "store2")),
        ls.LabelStudioClient(ls_env.url, ls_env.token),
    )
    assert fresh.ensure_project() == projects[0]["id"]


@pytest.mark.labelstudio
def test_adaptive_overlap_and_pre_annotations(ls_env, annotators, tmp_path):
    text_items(tmp_path)
    spec = parse_job_spec(text_job("adaptive overlap", labeler_count=3))
    store = AnnotationStore(str(tmp_path / "store"))
    labeler = ls.LabelStudioLabeler(spec, store, ls.LabelStudioClient(ls_env.url, ls_env.token), model_version="m-7")
    records = list(m.read_jsonl(str(tmp_path / "items.jsonl")))
    tasks = [LabelTask(m.item_id(r), r, 1, {"pos": 0.8, "neg": 0.2}) for r in records]
    labeler.request(tasks)
    existing = labeler.existing_tasks()
    assert {t["overlap"] for t in existing.values()} == {1}
    first = existing[tasks[0].item_id]
    prediction = admin_get(ls_env, "/api/predictions/", task=first["id"])[0]
    assert prediction["model_version"] == "m-7" and prediction["result"][0]["value"]["choices"] == ["pos"]
    labeler.request([LabelTask(tasks[0].item_id, records[0], 3)])
    assert labeler.existing_tasks()[tasks[0].item_id]["overlap"] == 3


@pytest.mark.labelstudio
def test_local_image_files_are_served_to_labelers(ls_env, tmp_path):
    from PIL import Image

    folder = ls_env.files_root / "batch-1"
    folder.mkdir(exist_ok=True)
    Image.new("RGB", (8, 8), "red").save(folder / "red.png")
    record = {"imageGcsUri": str(folder / "red.png"), "dataItemResourceLabels": {"labelloop_id": "red0"}}
    spec = parse_job_spec(
        json.dumps(
            {
                "displayName": "local images",
                "labelerCount": 1,
                "instructionUri": "https://example.test/g.pdf",
                "inputsSchemaUri": SCHEMA + "image_classification_1.0.0.yaml",
                "inputs": {"annotationSpecs": ["red", "blue"]},
            }
        )
    )
    labeler = ls.LabelStudioLabeler(
        spec,
        AnnotationStore(str(tmp_path / "s")),
        ls.LabelStudioClient(ls_env.url, ls_env.token),
        files_root=str(ls_env.files_root),
    )
    labeler.request([LabelTask("red0", record, 1)])
    task = labeler.existing_tasks()["red0"]
    assert task["data"]["image"] == "/data/local-files/?d=batch-1/red.png"
    served = requests.get(
        f"{ls_env.url}{task['data']['image']}", headers={"Authorization": f"Token {ls_env.token}"}, timeout=30
    )
    assert served.status_code == 200 and served.content == (folder / "red.png").read_bytes()
    outside = {"imageGcsUri": str(tmp_path / "x.png"), "dataItemResourceLabels": {"labelloop_id": "x"}}
    with pytest.raises(ls.LabelStudioError, match="is outside LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT"):
        labeler.request([LabelTask("x", outside, 1)])


@pytest.mark.labelstudio
def test_table_rows_are_shown_as_their_fields_and_an_answer_becomes_the_label(ls_env, tmp_path):
    row = {"alcohol": 13.2, "estate": "estate_7", "hue": None}
    record = {"tableRow": row, "dataItemResourceLabels": {"labelloop_id": "row0"}}
    spec = parse_job_spec(
        json.dumps(
            {
                "displayName": "wine rows",
                "labelerCount": 1,
                "instructionUri": "https://example.test/g.pdf",
                "inputs": {"annotationSpecs": ["cultivar_0", "cultivar_1"]},
                "labelloop": {"taskType": "tabular_classification"},
            }
        )
    )
    labeler = ls.LabelStudioLabeler(
        spec, AnnotationStore(str(tmp_path / "s")), ls.LabelStudioClient(ls_env.url, ls_env.token)
    )
    labeler.request([LabelTask("row0", record, 1)])
    task = labeler.existing_tasks()["row0"]
    assert task["data"]["row"] == {"alcohol": 13.2, "estate": "estate_7", "hue": ""}  # a missing cell shows empty
    answer = [{"from_name": "label", "to_name": "item", "type": "choices", "value": {"choices": ["cultivar_1"]}}]
    assert ls.annotation_value(TaskType.TABLE_CLASSIFICATION, answer, "row0") == "cultivar_1"


@pytest.mark.labelstudio
@pytest.mark.slow
def test_a_person_labels_a_task_in_the_browser(ls_env, annotators, chromium_paths, tmp_path):
    from selenium import webdriver
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    text_items(tmp_path)
    spec = parse_job_spec(text_job("browser labeling", labeler_count=1))
    labeler = ls.LabelStudioLabeler(
        spec, AnnotationStore(str(tmp_path / "s")), ls.LabelStudioClient(ls_env.url, ls_env.token)
    )
    record = next(m.read_jsonl(str(tmp_path / "items.jsonl")))
    labeler.request([LabelTask(m.item_id(record), record, 1)])
    task = labeler.existing_tasks()[m.item_id(record)]

    chromium, driver_path = chromium_paths
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'chrome'}",
        "--window-size=1400,1000",
    ):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=webdriver.ChromeService(executable_path=driver_path), options=options)
    try:
        wait = WebDriverWait(browser, 60)
        browser.get(f"{ls_env.url}/user/login/")
        wait.until(ec.presence_of_element_located((By.NAME, "email"))).send_keys("annotator0@labelloop.test")
        browser.find_element(By.NAME, "password").send_keys("pw-annotator-0-x9")
        browser.find_element(By.CSS_SELECTOR, "form button[type=submit], form input[type=submit]").click()
        wait.until(lambda b: "/user/login" not in b.current_url)
        browser.get(f"{ls_env.url}/projects/{labeler.project_id}/data?task={task['id']}")
        choice = (By.XPATH, "//*[contains(@class,'choice')]//*[normalize-space(text())='pos']")
        wait.until(ec.presence_of_element_located(choice))
        time.sleep(1.0)  # the editor re-renders once after loading the task
        wait.until(lambda b: _click(b, choice))
        wait.until(lambda b: _click(b, (By.XPATH, "//button[normalize-space(.)='Submit']")))
        wait.until(lambda b: admin_get(ls_env, f"/api/tasks/{task['id']}")["total_annotations"] == 1)
    except Exception:
        browser.save_screenshot(str(tmp_path / "browser-failure.png"))
        raise
    finally:
        browser.quit()
    delivered = labeler.delivered()
    assert [(d.item_id, d.value) for d in delivered] == [(m.item_id(record), "pos")]


def _click(browser, locator) -> bool:
    """Click an element, trying again (by returning False to the wait) while the page re-renders it."""
    from selenium.common.exceptions import ElementClickInterceptedException, StaleElementReferenceException

    try:
        browser.find_element(*locator).click()
        return True
    except (StaleElementReferenceException, ElementClickInterceptedException):
        return False


# ---------------------------------------------------------------------------------------------
# A down or slow server: retries with backoff, then a clear error, and nothing half-written


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class FlakyServer(http.server.ThreadingHTTPServer):
    """Answers 503 ``failures`` times (or sleeps ``delay_s``), then a fixed JSON body; counts requests."""

    def __init__(self, failures=0, delay_s=0.0, body=None):
        self.failures, self.delay_s, self.body, self.requests = failures, delay_s, body or {"ok": True}, 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests += 1
                if outer.delay_s:
                    time.sleep(outer.delay_s)
                if outer.requests <= outer.failures:
                    self.send_response(503)
                    self.end_headers()
                    return
                payload = json.dumps(outer.body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __exit__(self, *exc):
        self.shutdown()
        self.server_close()


def test_retries_with_exponential_backoff_then_succeeds():
    waits = []
    with FlakyServer(failures=2, body={"id": 1}) as url:
        client = ls.LabelStudioClient(url, "token", ls.RetryPolicy(attempts=4, base_s=0.5), sleep=waits.append)
        assert client.call("GET", "/api/projects/1") == {"id": 1}
    assert waits == [0.5, 1.0]


def test_server_answering_503_fails_clearly_after_every_retry():
    waits = []
    with FlakyServer(failures=100) as url:
        client = ls.LabelStudioClient(
            url, "token", ls.RetryPolicy(attempts=4, base_s=0.5, max_wait_s=1.5), sleep=waits.append
        )
        with pytest.raises(
            ls.LabelStudioUnavailable, match=r"GET .*/api/projects failed 4 times .*HTTP 503.*LABEL_STUDIO_URL"
        ):
            client.call("GET", "/api/projects")
    assert waits == [0.5, 1.0, 1.5]


def test_slow_server_times_out_and_fails_clearly():
    with FlakyServer(delay_s=1.0) as url:
        client = ls.LabelStudioClient(
            url, "token", ls.RetryPolicy(attempts=2, base_s=0.01, timeout_s=0.2), sleep=lambda s: None
        )
        with pytest.raises(ls.LabelStudioUnavailable, match="failed 2 times .*ReadTimeout"):
            client.call("GET", "/api/projects")


def test_server_down_leaves_no_outputs_and_no_annotations(tmp_path, monkeypatch):
    text_items(tmp_path)
    monkeypatch.setenv("LABEL_STUDIO_URL", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "token")
    fast = ls.RetryPolicy(attempts=3, base_s=0.01, timeout_s=2)
    monkeypatch.setattr(ls, "RetryPolicy", lambda: fast)  # what from_env builds
    out = artifacts(tmp_path / "out")
    with pytest.raises(ls.LabelStudioUnavailable, match="ConnectionError.*check that Label Studio is running"):
        label_items.python_func(
            items=dsl.Dataset(name="i", uri=str(tmp_path / "items.jsonl"), metadata={}),
            job_spec=text_job("down"),
            annotation_store_uri=str(tmp_path / "store"),
            backend="label_studio",
            **out,
        )
    assert not any((tmp_path / "out" / name).exists() for name in ("labeled.jsonl", "annotations.jsonl", "report.html"))
    assert not (tmp_path / "store" / "annotations").exists()


def test_annotation_results_become_store_values():
    choice = [{"type": "choices", "value": {"choices": ["pos"]}}]
    assert ls.annotation_value(TaskType.TEXT_CLASSIFICATION, choice, "t") == "pos"
    with pytest.raises(ls.LabelStudioError, match="t: expected one choice, got"):
        ls.annotation_value(TaskType.TEXT_CLASSIFICATION, [], "t")
    box = [
        {"type": "rectanglelabels", "value": {"x": 10, "y": 20, "width": 30, "height": 40, "rectanglelabels": ["car"]}}
    ]
    assert ls.annotation_value(TaskType.IMAGE_BOUNDING_BOX, box, "t") == [
        {"displayName": "car", "xMin": 0.1, "yMin": 0.2, "xMax": pytest.approx(0.4), "yMax": pytest.approx(0.6)}
    ]
    span = [{"type": "labels", "value": {"start": 3, "end": 8, "labels": ["ORG"]}}]
    assert ls.annotation_value(TaskType.TEXT_ENTITY_SPANS, span, "t") == [
        {"displayName": "ORG", "startOffset": 3, "endOffset": 8}
    ]


# ---------------------------------------------------------------------------------------------
# A team labels while the pipeline waits: `labelloop label-studio start`, the labeling step sends
# items, a person labels them in the browser, the step picks the labels up and the pipeline goes
# on; `status` shows the progress; after `stop` and `start` again the labels are still there.


def _chromium(chromium_paths, profile):
    from selenium import webdriver

    chromium, driver_path = chromium_paths
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--window-size=1400,1000",
    ):
        options.add_argument(flag)
    return webdriver.Chrome(service=webdriver.ChromeService(executable_path=driver_path), options=options)


def _label_in_browser(browser, url, email, password, project_id, task_ids, answers, done):
    """Log in as a labeler and label each task by clicking its choice and Submit, as a person would."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 90)
    browser.get(f"{url}/user/login/")
    wait.until(ec.presence_of_element_located((By.NAME, "email"))).send_keys(email)
    browser.find_element(By.NAME, "password").send_keys(password)
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit], form input[type=submit]").click()
    wait.until(lambda b: "/user/login" not in b.current_url)
    for task_id, answer in zip(task_ids, answers):
        browser.get(f"{url}/projects/{project_id}/data?task={task_id}")
        choice = (By.XPATH, f"//*[contains(@class,'choice')]//*[normalize-space(text())='{answer}']")
        wait.until(ec.presence_of_element_located(choice))
        time.sleep(1.0)  # the editor re-renders once after loading the task
        wait.until(lambda b, c=choice: _click(b, c))
        wait.until(lambda b: _click(b, (By.XPATH, "//button[normalize-space(.)='Submit']")))
        wait.until(lambda b, t=task_id: done(t))


@pytest.mark.labelstudio
@pytest.mark.slow
def test_team_labels_in_the_browser_while_the_pipeline_waits_and_resumes(chromium_paths, tmp_path, monkeypatch):
    import io
    import os
    import sys
    from pathlib import Path

    from labelloop.components.merge_labels import merge_labels
    from labelloop.pipelines import cli

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import labelstudio_server

    venv = labelstudio_server.labelstudio_venv()
    if labelstudio_server.labelstudio_executable() is None:
        pytest.skip(f"label-studio is not installed in {venv}; run {labelstudio_server.INSTALL_SCRIPT}")
    monkeypatch.setenv("LABELSTUDIO_VENV", str(venv))
    data_dir, port = tmp_path / "team-ls", labelstudio_server.free_port()
    base = ["label-studio", "--data-dir", str(data_dir), "--port", str(port), "--files-root", str(tmp_path)]

    def labelloop(*argv):
        out, err = io.StringIO(), io.StringIO()
        code = cli.main([*argv], environ=dict(os.environ), out=out, err=err)
        assert code == 0, err.getvalue()
        return out.getvalue()

    started = labelloop(base[0], "start", *base[1:], "--user", "lena@labelloop.test:lena-labels-9")
    try:
        env = dict(
            line.strip().removeprefix("export ").split("=", 1) for line in started.splitlines() if "export " in line
        )
        assert (
            env["LABEL_STUDIO_URL"] == f"http://127.0.0.1:{port}" and "created labeler lena@labelloop.test" in started
        )
        assert "/user/signup/" in started
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        assert "no projects yet" in labelloop(base[0], "status", *base[1:])

        # the pipeline's labeling step sends the items and waits for the team
        records = text_items(tmp_path)[:2]
        m.write_jsonl(str(tmp_path / "items.jsonl"), records)
        spec_json = text_job("team round trip", labeler_count=1, timeoutSeconds=600, adaptive={"enabled": False})
        out = artifacts(tmp_path / "run1")
        items = dsl.Dataset(name="i", uri=str(tmp_path / "items.jsonl"), metadata={})
        step = threading.Thread(
            target=label_items.python_func,
            kwargs=dict(
                items=items,
                job_spec=spec_json,
                annotation_store_uri=str(tmp_path / "store"),
                backend="label_studio",
                **out,
            ),
            daemon=True,
        )
        step.start()
        server = labelstudio_server.RunningServer(
            env["LABEL_STUDIO_URL"], env["LABEL_STUDIO_API_KEY"], data_dir, tmp_path, None, data_dir / "x"
        )
        title = ls.LabelStudioLabeler(parse_job_spec(spec_json), None, None).title
        deadline = time.monotonic() + 120
        project = None
        while project is None and time.monotonic() < deadline:
            found = [p for p in admin_get(server, "/api/projects", page_size=100)["results"] if p["title"] == title]
            project = found[0] if found and found[0].get("task_number") == 2 else None
            time.sleep(0.5)
        assert project is not None, "the labeling step did not create its project"
        tasks = admin_get(server, "/api/tasks", project=project["id"], page_size=100)["tasks"]
        assert "team round trip" in labelloop(base[0], "status", *base[1:]) and "0/2 tasks labeled" in labelloop(
            base[0], "status", *base[1:]
        )
        browser = _chromium(chromium_paths, tmp_path / "chrome")
        try:
            _label_in_browser(
                browser,
                server.url,
                "lena@labelloop.test",
                "lena-labels-9",
                project["id"],
                [t["id"] for t in tasks],
                [TEXTS[t["data"]["text"]] for t in tasks],
                lambda tid: admin_get(server, f"/api/tasks/{tid}")["total_annotations"] == 1,
            )
        except Exception:
            browser.save_screenshot(str(tmp_path / "browser-failure.png"))
            raise
        finally:
            browser.quit()
        step.join(120)
        assert not step.is_alive(), "the labeling step did not pick the labels up"
        labeled = list(m.read_jsonl(out["labeled"].path))
        assert [m.label_of(r) for r in labeled] == [TEXTS[r["textContent"]] for r in records]
        assert len(list(m.read_jsonl(out["annotations"].path))) == 2  # one label per item, from the person
        # the pipeline goes on: the next step merges the labels into the dataset
        merged = dsl.Dataset(name="merged", uri=str(tmp_path / "merged.jsonl"), metadata={})
        merge_labels.python_func(items=items, labeled=out["labeled"], merged=merged)
        assert all(m.label_of(r) for r in m.read_jsonl(merged.path))
        assert "2/2 tasks labeled (100%)" in labelloop(base[0], "status", *base[1:])

        # interrupted: stop, start again; the labels are kept and a re-run buys none twice
        assert "stopped" in labelloop(base[0], "stop", *base[1:])
        labelloop(base[0], "start", *base[1:])
        assert "2/2 tasks labeled (100%)" in labelloop(base[0], "status", *base[1:])
        again = artifacts(tmp_path / "run2")
        label_items.python_func(
            items=items,
            job_spec=spec_json,
            annotation_store_uri=str(tmp_path / "store"),
            backend="label_studio",
            **again,
        )
        assert again["metrics"].metadata["labels_bought_this_run"] == 0
    finally:
        labelloop(base[0], "stop", *base[1:])
