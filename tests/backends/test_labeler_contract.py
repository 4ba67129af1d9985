"""Every Labeler keeps the same contract, and the rounds around it buy only what the policy asks."""

import json

import pytest
import requests
from labelloop.components.backends import labeler as lb
from labelloop.components.core import adaptive
from labelloop.components.core import labeling_rounds as rounds
from labelloop.components.core.annotation_store import AnnotationStore
from labelloop.components.core.labeling_job import parse_job_spec
from labelloop.components.core.simulated_crowd import CrowdConfig

SCHEMA = "gs://google-cloud-aiplatform/schema/datalabelingjob/inputs/text_classification_1.0.0.yaml"
ITEMS = {"t1": ("fine", "pos"), "t2": ("bad", "neg"), "t3": ("nice", "pos")}


def spec(labeler_count=2, name="contract", **labelloop):
    return parse_job_spec(
        json.dumps(
            {
                "displayName": name,
                "labelerCount": labeler_count,
                "instructionUri": "https://example.test/g.pdf",
                "inputsSchemaUri": SCHEMA,
                "inputs": {"annotationSpecs": ["pos", "neg"]},
                "labelloop": labelloop,
            }
        )
    )


def tasks(target):
    return [
        rounds.LabelTask(i, {"textContent": text, "dataItemResourceLabels": {"labelloop_id": i}}, target)
        for i, (text, _) in ITEMS.items()
    ]


def annotate_all(server, tokens, project_id):
    """Each annotator answers every task that still needs labels (the truth)."""
    admin = {"Authorization": f"Token {server.token}"}
    listed = requests.get(
        f"{server.url}/api/tasks", headers=admin, params={"project": project_id, "fields": "all"}, timeout=30
    )
    for task in listed.json()["tasks"]:
        for token in list(tokens.values())[: task["overlap"]]:
            result = [
                {
                    "from_name": "label",
                    "to_name": "item",
                    "type": "choices",
                    "value": {"choices": [ITEMS[task["data"]["labelloop_id"]][1]]},
                }
            ]
            requests.post(
                f"{server.url}/api/tasks/{task['id']}/annotations",
                headers={"Authorization": f"Token {token}"},
                json={"result": result},
                timeout=30,
            ).raise_for_status()


@pytest.fixture(params=["simulated", pytest.param("label_studio", marks=pytest.mark.labelstudio)])
def backend(request, tmp_path):
    if request.param == "simulated":
        truth = {i: label for i, (_, label) in ITEMS.items()}
        return lb.SimulatedCrowdLabeler(
            spec(), truth, CrowdConfig(n_labelers=3, accuracy=1.0, noise="uniform")
        ), lambda: None
    from labelloop.components.backends import label_studio as ls

    server, tokens = request.getfixturevalue("label_studio_server"), request.getfixturevalue("annotators")
    client = ls.LabelStudioClient(server.url, server.token)
    backend = ls.LabelStudioLabeler(
        spec(name=f"contract {tmp_path.name}"), AnnotationStore(str(tmp_path / "s")), client
    )
    return backend, lambda: annotate_all(server, tokens, backend.project_id)


def test_delivers_target_labels_from_distinct_labelers(backend):
    labeler, people_work = backend
    assert labeler.delivered() == [] or all(d.item_id in ITEMS for d in labeler.delivered())
    labeler.request(tasks(2))
    people_work()
    delivered = labeler.delivered()
    for item_id, (_, truth) in ITEMS.items():
        mine = [d for d in delivered if d.item_id == item_id]
        assert len(mine) == 2 and len({d.labeler_id for d in mine}) == 2
        assert {d.value for d in mine} == {truth}
    # asking again for the same targets changes nothing
    labeler.request(tasks(2))
    assert sorted((d.item_id, d.labeler_id) for d in labeler.delivered()) == sorted(
        (d.item_id, d.labeler_id) for d in delivered
    )


def test_adaptive_policy_counts_a_confident_model_as_a_vote():
    policy = adaptive.RedundancyPolicy(max_labels=3)
    confident = adaptive.model_vote({"pos": 0.95, "neg": 0.05}, policy)
    assert adaptive.labels_wanted([], policy) == 1
    assert adaptive.labels_wanted(["pos"], policy) == 2  # one label, no model: not settled
    assert adaptive.labels_wanted(["pos"], policy, confident) == 1  # labeler confirms the model
    assert adaptive.labels_wanted(["neg"], policy, confident) == 2  # labeler contradicts it
    assert adaptive.labels_wanted(["pos", "pos"], policy) == 2
    assert adaptive.labels_wanted(["pos", "neg"], policy) == 3
    assert adaptive.labels_wanted(["pos", "neg", "pos"], policy) == 3  # capped at labelerCount
    assert adaptive.model_vote({"pos": 0.6, "neg": 0.4}, policy) is None
    assert adaptive.labels_wanted([], adaptive.RedundancyPolicy(max_labels=3, adaptive=False)) == 3


def test_plan_round_fits_items_and_dollars():
    wants = [("a", 0, 1), ("b", 1, 2), ("c", 0, 3), ("d", 0, 1)]
    plan = adaptive.plan_round(
        wants, price_per_label_usd=0.05, budget=adaptive.BudgetLeft(items=1, usd=0.15), started={"b"}
    )
    assert plan.targets == (("a", 1), ("b", 2))  # c and d would start new items beyond the limit
    assert plan.held_back == ("c", "d") and plan.cost_usd == pytest.approx(0.10)
    plan = adaptive.plan_round(
        wants, price_per_label_usd=0.05, budget=adaptive.BudgetLeft(items=None, usd=0.15), started=set()
    )
    assert plan.targets == (("a", 1), ("b", 2), ("c", 1))  # c gets what is left, then the money is gone
    assert plan.held_back == ("d",)


def test_rounds_resume_from_the_store_without_buying_again(tmp_path):
    job = spec(labeler_count=3)
    truth = {i: label for i, (_, label) in ITEMS.items()}
    items = [(t.item_id, t.record) for t in tasks(1)]
    store = AnnotationStore(str(tmp_path / "store"))
    crowd = CrowdConfig(n_labelers=3, accuracy=0.7, noise="uniform", seed=5)
    first = rounds.run_rounds(items, job, lb.SimulatedCrowdLabeler(job, truth, crowd), store, rounds.RoundsConfig("r1"))
    again = rounds.run_rounds(items, job, lb.SimulatedCrowdLabeler(job, truth, crowd), store, rounds.RoundsConfig("r2"))
    assert first.bought and not again.bought and not again.ledger
    assert {a.key for a in again.annotations} == {a.key for a in first.annotations}
    assert [e.round for e in store.load_ledger()] == [e.round for e in first.ledger]


def test_rounds_time_out_with_items_waiting(tmp_path):
    class Silent:
        name = "silent"

        def request(self, tasks):
            pass

        def delivered(self):
            return []

    now = [0.0]
    config = rounds.RoundsConfig("r1", sleep=lambda s: now.__setitem__(0, now[0] + s), clock=lambda: now[0])
    result = rounds.run_rounds(
        [(t.item_id, t.record) for t in tasks(1)],
        spec(timeoutSeconds=30, pollIntervalSeconds=10),
        Silent(),
        AnnotationStore(str(tmp_path)),
        config,
    )
    assert result.timed_out and set(result.waiting) == set(ITEMS) and now[0] == pytest.approx(30)
    assert result.ledger[0].labels_requested == 3 and result.ledger[0].labels_delivered == 0
