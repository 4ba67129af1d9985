"""The ``active-learning-round`` pipeline: one labeling round per run, for labeling that takes days.

    checkout latest version ─▶ train ─▶ evaluate ─▶ predict pool ─▶ select ─▶ label ─▶ merge
                            ─▶ version ─▶ record round (in the version store's state)

Schedule it (``labelloop schedule active-learning-round --cron ... --max-concurrent 1``): each run
picks up the dataset version and round records the previous run left in the version store, so a
week of human labeling is a week of runs. Start from a dataset created by ``active-learning`` or
``curate`` + ``version_dataset``; run ``train`` when ``record_round`` says to stop.
"""

from kfp import dsl

from ..components.checkout_dataset import checkout_dataset
from . import steps
from ._targets import check_target


def build_pipeline(target: str = "local"):
    """One active-learning round for ``target``."""
    check_target(target)

    @dsl.pipeline(
        name="active-learning-round", description="One active-learning round; state lives in the version store."
    )
    def active_learning_round(
        store_uri: str,
        dataset_name: str,
        annotation_store_uri: str,
        labeling_job_spec: str,
        batch_size: int = steps.BATCH_SIZE,
        task: str = "image_classification",
        strategy: str = steps.STRATEGY,
        active_learning_config: str = steps.ACTIVE_LEARNING_CONFIG,
        labeling_backend: str = steps.LABELING_BACKEND,
        ground_truth_uri: str = "",
        label_studio_url: str = "",
        label_studio_token_secret: str = "",
        simulated_crowd: str = "{}",
        round_budget_seconds: int = steps.ROUND_BUDGET_SECONDS,
        seed: int = steps.SEED,
        location: str = steps.LOCATION,
    ):
        """Run one labeling round on the newest version of a dataset.

        Args:
            store_uri: Dataset version store (folder or ``gs://`` prefix) holding the dataset and its rounds.
            dataset_name: Dataset in the store.
            annotation_store_uri: Where paid-for annotations and the spend ledger persist.
            labeling_job_spec: DataLabelingJob JSON for the human labeling.
            batch_size: Items to send to humans in this round.
            task: ``image_classification``, ``image_multilabel``, ``text_classification`` or
                ``tabular_classification`` (tabular regression is refused before any step runs).
            strategy: Sampling strategy (``UNCERTAINTY``, ``margin``, ``entropy``, ``random``, ...).
            active_learning_config: ActiveLearningConfig JSON (budget and stopping rules).
            labeling_backend: ``label_studio`` or ``simulated``.
            ground_truth_uri: Simulated backend only: hidden true labels.
            label_studio_url: Label Studio backend: the server's URL; empty reads LABEL_STUDIO_URL.
            label_studio_token_secret: Label Studio backend: Secret Manager secret version with the
                API token, read at run time; empty reads LABEL_STUDIO_API_KEY (local runs).
            simulated_crowd: Simulated backend only: crowd settings JSON.
            round_budget_seconds: Training budget of this round's model.
            seed: Seed for every random choice.
            location: Vertex target only: region of the training custom job.
        """
        current = (
            checkout_dataset(store_uri=store_uri, dataset_name=dataset_name)
            .set_display_name("Check out the newest version")
            .set_caching_options(False)
        )
        labeling = steps.LabelingSettings(
            job_spec=labeling_job_spec,
            annotation_store_uri=annotation_store_uri,
            backend=labeling_backend,
            ground_truth_uri=ground_truth_uri,
            label_studio_url=label_studio_url,
            label_studio_token_secret=label_studio_token_secret,
            simulated_crowd=simulated_crowd,
            store_uri=store_uri,
            dataset_name=dataset_name,
        )
        settings = steps.RoundSettings(
            target=target,
            labeling=labeling,
            task=task,
            strategy=strategy,
            config=active_learning_config,
            round_budget_seconds=round_budget_seconds,
            seed=seed,
            location=location,
        )
        steps.add_round(
            settings=settings,
            index=1,
            depth=1,
            items=current.outputs["items"],
            batch_size=batch_size,
            previous_rounds=None,
        )

    return active_learning_round
