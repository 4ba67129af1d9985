"""A dispute review on Label Studio: its own project and store, the reviewers' label wins."""

import json

import pytest
from kfp import dsl
from labelloop.components.backends import label_studio as ls
from labelloop.components.core import manifest as mf
from labelloop.components.core.annotation_store import AnnotationStore, review_store_uri
from labelloop.components.core.labeling_job import parse_job_spec, review_job_spec
from labelloop.components.label_items import label_items
from test_label_studio import answering, artifacts
from test_label_studio_verification import Reviewers, reviews

pytestmark = [pytest.mark.labelstudio, pytest.mark.slow]

SPEC = json.dumps(
    {
        "displayName": "review disputes",
        "labelerCount": 1,
        "instructionUri": "https://example.test/guide.pdf",
        "inputsSchemaUri": "gs://google-cloud-aiplatform/schema/datalabelingjob/inputs/text_classification_1.0.0.yaml",
        "inputs": {"annotationSpecs": [{"displayName": "pos"}, {"displayName": "neg"}]},
        "labelloop": {
            "pollIntervalSeconds": 0.3,
            "timeoutSeconds": 120,
            "adaptive": {"enabled": False},
            "disputeReview": {"labelerCount": 1, "pricePerLabelUsd": 0.2},
        },
    }
)


def label(tmp_path, name, records, answers, title, server, annotators, **kwargs):
    """label_items on ``records`` while annotators answer project ``title`` from ``answers``."""
    mf.write_jsonl(str(tmp_path / f"{name}.jsonl"), records)
    out = artifacts(tmp_path / name)
    with answering(Reviewers(server.url, server.token, annotators, title, answers)):
        label_items.python_func(
            items=dsl.Dataset(name="items", uri=str(tmp_path / f"{name}.jsonl"), metadata={}),
            job_spec=SPEC,
            annotation_store_uri=str(tmp_path / "store"),
            backend="label_studio",
            **out,
            **kwargs,
        )
    return {r["textContent"]: mf.label_of(r) for r in mf.read_jsonl(out["labeled"].path)}


def test_reviewers_answer_in_a_project_of_their_own_and_their_label_is_the_output(
    label_studio_server, annotators, tmp_path, monkeypatch
):
    monkeypatch.setenv("LABEL_STUDIO_URL", label_studio_server.url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", label_studio_server.token)
    truth = dict(list(reviews().items())[:12])
    crowd_says = {t: ({"pos": "neg", "neg": "pos"}[y] if i % 3 == 0 else y) for i, (t, y) in enumerate(truth.items())}
    records = [mf.with_id({"textContent": t}, mf.content_id(t)) for t in truth]
    spec = parse_job_spec(SPEC)
    crowd_title = ls.LabelStudioLabeler(spec, None, None).title
    review_title = ls.LabelStudioLabeler(review_job_spec(spec), None, None).title
    assert crowd_title != review_title

    crowd = label(tmp_path, "crowd", records, crowd_says, crowd_title, label_studio_server, annotators)
    assert crowd == crowd_says
    disputed = [r for r in records if crowd[r["textContent"]] != truth[r["textContent"]]]
    reviewed = label(tmp_path, "review", disputed, truth, review_title, label_studio_server, annotators, review=True)
    assert reviewed == {r["textContent"]: truth[r["textContent"]] for r in disputed} and len(reviewed) == 4
    review_store = AnnotationStore(review_store_uri(str(tmp_path / "store")))
    assert len(review_store.load_annotations()) == 4 and review_store.spent_usd() == pytest.approx(0.8)
    assert len(AnnotationStore(str(tmp_path / "store")).load_annotations()) == 12
