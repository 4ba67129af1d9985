"""The Label Studio token read at run time from Secret Manager (a local fake, real client and message types),
with the environment still working for local runs."""

import pytest
from fake_secret_manager import FakeSecretManager
from google.auth.credentials import AnonymousCredentials
from labelloop.components.backends import label_studio as ls

VERSION = "projects/my-project/secrets/label-studio-token/versions/2"


def read_from(fake):
    return lambda name: ls.read_secret_version(name, api_endpoint=fake.url, credentials=AnonymousCredentials())


def test_reads_the_token_from_the_named_secret_version_over_the_real_client():
    with FakeSecretManager({VERSION: b"s3cret-token\n"}) as fake:
        assert ls.read_secret_version(VERSION, api_endpoint=fake.url, credentials=AnonymousCredentials()) == (
            "s3cret-token\n"
        )
    [request] = fake.requests
    assert (request.method, request.path) == ("GET", f"/v1/{VERSION}:access")


def test_latest_and_the_endpoint_from_the_environment():
    latest = VERSION.replace("/2", "/latest")
    secrets = {VERSION.replace("/2", "/1"): b"old", VERSION: b"new"}
    with FakeSecretManager(secrets) as fake:
        environ = {ls.SECRET_MANAGER_ENDPOINT_ENV: fake.url}
        assert ls.read_secret_version(latest, credentials=AnonymousCredentials(), environ=environ) == "new"
    assert [r.path for r in fake.requests] == [f"/v1/{latest}:access"]


def test_the_secret_wins_over_the_environment_and_the_url_parameter_over_its_variable():
    environ = {ls.URL_ENV: "http://env-host:8080", ls.KEY_ENV: "env-token"}
    with FakeSecretManager({VERSION: b"from-secret"}) as fake:
        url, token = ls.label_studio_connection(
            url="https://labels.example.com/", token_secret=VERSION, environ=environ, read_secret=read_from(fake)
        )
    assert (url, token) == ("https://labels.example.com", "from-secret")
    client = ls.LabelStudioClient.from_env(environ)  # local runs: environment only, no Secret Manager call
    assert (client.url, client.api_key) == ("http://env-host:8080", "env-token")


def test_the_labeler_is_built_from_the_parameters(tmp_path):
    from labelloop.components.core.annotation_store import AnnotationStore
    from labelloop.components.core.labeling_job import parse_job_spec

    spec = parse_job_spec(
        {
            "displayName": "reviews",
            "labelerCount": 1,
            "instructionUri": "https://example.test/guide.pdf",
            "inputsSchemaUri": "gs://google-cloud-aiplatform/schema/datalabelingjob/inputs/text_classification_1.0.0.yaml",
            "inputs": {"annotationSpecs": [{"displayName": "pos"}, {"displayName": "neg"}]},
        }
    )
    with FakeSecretManager({VERSION: b"tok"}) as fake:
        labeler = ls.LabelStudioLabeler.from_env(
            spec,
            AnnotationStore(str(tmp_path)),
            model_version="m1",
            environ={},
            url="http://ls:8080",
            token_secret=VERSION,
            read_secret=read_from(fake),
        )
    assert (labeler.client.url, labeler.client.api_key) == ("http://ls:8080", "tok")


@pytest.mark.parametrize(
    "secrets, denied, bad_checksum, match",
    [
        ({}, (), False, "not found.*roles/secretmanager.secretAccessor"),
        ({VERSION: b"x"}, (VERSION,), False, "denied.*roles/secretmanager.secretAccessor"),
        ({VERSION: b"x"}, (), True, "CRC32C does not match"),
        ({VERSION: b"\xff\xfe"}, (), False, "not UTF-8"),
        ({VERSION: b"  \n"}, (), False, "has no token \\(secret .*versions/2 is empty\\)"),
    ],
)
def test_secret_failures_say_what_to_fix(secrets, denied, bad_checksum, match):
    with FakeSecretManager(secrets, denied=denied, bad_checksum=bad_checksum) as fake:
        with pytest.raises(ls.LabelStudioError, match=match):
            ls.label_studio_connection(
                url="http://ls:8080", token_secret=VERSION, environ={}, read_secret=read_from(fake)
            )


@pytest.mark.parametrize(
    "name",
    ["label-studio-token", "projects/p/secrets/t", "projects/p/secrets/t/versions/0", "projects//secrets/t/versions/1"],
)
def test_a_malformed_secret_name_is_refused_before_any_call(name):
    with pytest.raises(ls.LabelStudioError, match="not a secret version resource name"):
        ls.read_secret_version(name, api_endpoint="http://127.0.0.1:9", credentials=AnonymousCredentials())


def test_missing_url_or_token_names_the_parameter_and_the_variable():
    with pytest.raises(ls.LabelStudioError, match="has no server URL: .*LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY"):
        ls.label_studio_connection(environ={ls.KEY_ENV: "t"})
    with pytest.raises(ls.LabelStudioError, match=r"\$LABEL_STUDIO_API_KEY is empty.*label_studio_token_secret"):
        ls.label_studio_connection(url="http://ls", environ={})
