"""The ``verify-labels`` pipeline: find likely mislabeled items and have people verify them.

    check out a labeled dataset version (or import a labeled manifest and version it)
      ─▶ find_label_issues (out-of-fold probabilities, confident learning, the budget's top suspects)
      ─▶ label_items (a verification job: simulated crowd or Label Studio, the job spec's spend budget)
      ─▶ merge_labels (a verified label overwrites the old one, kept in labelloop.label_history;
         unanswered suspects, and disputed ones the votes do not settle, keep their label)
      ─▶ version_dataset (a new version, every item of the old one) ─▶ verification report

Run it on a dataset whose labels came from elsewhere (an import, a vendor, machine labels) before
training on it. Give the job an annotation store of its own: labels of these items already in a
store are reused, not asked again (the report counts them).
"""

from kfp import dsl

from ..components.checkout_dataset import checkout_dataset
from . import steps
from ._targets import check_target


def build_pipeline(target: str = "local"):
    """The verify-labels pipeline for ``target``."""
    check_target(target)

    @dsl.pipeline(
        name="verify-labels",
        description="Find likely mislabeled items, have people verify them, version the corrected dataset.",
    )
    def verify_labels(
        store_uri: str,
        annotation_store_uri: str,
        labeling_job_spec: str,
        dataset_name: str = steps.DATASET_NAME,
        version_id: str = "latest",
        source_uri: str = "",
        data_type: str = "image",
        task: str = "image_classification",
        max_relabel_fraction: float = steps.MAX_RELABEL_FRACTION,
        max_suspects: int = 0,
        folds: int = steps.VERIFICATION_FOLDS,
        labeling_backend: str = steps.LABELING_BACKEND,
        ground_truth_uri: str = "",
        label_studio_url: str = "",
        label_studio_token_secret: str = "",
        simulated_crowd: str = "{}",
        seed: int = steps.SEED,
    ):
        """Verify the likeliest wrong labels of a dataset within a budget and store the corrected version.

        Args:
            store_uri: Dataset version store (folder or ``gs://`` prefix): the dataset is read from it
                and the corrected version written to it.
            annotation_store_uri: Where the verification job's annotations and spend ledger persist; use
                a store of its own (labels of these items already in a store are reused, not re-asked).
            labeling_job_spec: DataLabelingJob JSON for the verification job (label set, labelers per
                item, price, spend budget).
            dataset_name: Dataset in the version store.
            version_id: Version to verify, or ``latest`` (ignored when ``source_uri`` is given).
            source_uri: A labeled manifest (Vertex JSONL) or class-per-folder images to import, version
                and verify instead of a stored version; empty verifies ``version_id``.
            data_type: ``image`` or ``text``: what ``source_uri`` holds (tables are refused before any
                step runs).
            task: ``image_classification`` or ``text_classification`` (single-label only).
            max_relabel_fraction: Most suspects to send, as a fraction of the labeled items (the
                relabeling budget).
            max_suspects: Most suspects to send as a count; 0 = only the fraction caps them.
            folds: Cross-validation folds of the out-of-fold predicted probabilities.
            labeling_backend: ``label_studio`` (people) or ``simulated`` (a crowd answering from ground truth).
            ground_truth_uri: Simulated backend only: hidden true labels; the report then also scores
                the flagging and the labels before and after.
            label_studio_url: Label Studio backend: the server's URL; empty reads LABEL_STUDIO_URL.
            label_studio_token_secret: Label Studio backend: Secret Manager secret version with the
                API token, read at run time; empty reads LABEL_STUDIO_API_KEY (local runs).
            simulated_crowd: Simulated backend only: crowd settings JSON.
            seed: Seed for the folds and the model.
        """
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
        with dsl.If(source_uri != "", name="import-source"):
            imported = steps.import_step(
                source_uri=source_uri,
                settings=steps.CurateSettings(
                    data_type=data_type, allowed_labels=[], allowed_uri_schemes=steps.schemes(target)
                ),
            )
            versioned = steps.version_step(
                items=imported.outputs["items"],
                labeling=labeling,
                description="labels to verify",
                step="import",
                display_name="Version the imported labels",
            )
        with dsl.Else(name="stored-version"):
            named = (
                checkout_dataset(store_uri=store_uri, dataset_name=dataset_name, version_id=version_id)
                .set_display_name("Find the version to verify")
                .set_caching_options(False)
            )
        # kfp 2.17's local runner resolves dsl.OneOf of parameters only, so the branches agree on a version id
        current = (
            checkout_dataset(
                store_uri=store_uri,
                dataset_name=dataset_name,
                version_id=dsl.OneOf(versioned.outputs["version_id"], named.outputs["version_id"]),
            )
            .set_display_name("Check out the version to verify")
            .set_caching_options(False)
        )
        steps.verification_steps(
            items=current.outputs["items"],
            settings=steps.VerificationSettings(
                task=task,
                max_relabel_fraction=max_relabel_fraction,
                max_suspects=max_suspects,
                folds=folds,
                seed=seed,
            ),
            labeling=labeling,
        )

    return verify_labels
