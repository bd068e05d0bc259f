"""The OpenAPI schema: valid, every operation with its problems and examples, every example
true to its schema, every POST asking for an Idempotency-Key; docs served without a CDN."""

import copy

import jsonschema
import pytest
from django.test import Client
from drf_spectacular.validation import validate_schema

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema():
    response = Client().get("/api/v1/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def _operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def _json_schema(openapi_schema, components):
    """An OpenAPI 3.0 schema as JSON Schema: references inlined, ``nullable`` as a null type."""
    if isinstance(openapi_schema, list):
        return [_json_schema(item, components) for item in openapi_schema]
    if not isinstance(openapi_schema, dict):
        return openapi_schema
    if "$ref" in openapi_schema:
        name = openapi_schema["$ref"].rsplit("/", 1)[1]
        return _json_schema(components[name], components)
    converted = {key: _json_schema(value, components) for key, value in openapi_schema.items()}
    if converted.pop("nullable", False):
        converted = {"anyOf": [converted, {"type": "null"}]}
    return converted


def test_the_schema_is_valid_openapi(schema):
    validate_schema(copy.deepcopy(schema))


def _post_views():
    from api.urls import urlpatterns

    return [
        p.callback.view_class for p in urlpatterns if hasattr(getattr(p.callback, "view_class", None), "post")
    ]


def test_every_post_requires_an_idempotency_key(schema):
    posts = [(path, op) for path, method, op in _operations(schema) if method == "post"]
    assert len(posts) == len(_post_views()) >= 3  # every POST endpoint is in the schema
    for path, operation in posts:
        headers = {p["name"]: p for p in operation["parameters"] if p["in"] == "header"}
        assert headers["Idempotency-Key"]["required"] is True, path


def test_every_operation_documents_its_problems_as_problem_json(schema):
    for path, method, operation in _operations(schema):
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")):
                assert list(response["content"]) == ["application/problem+json"], (path, method, status)
        if operation.get("security"):
            assert {"401", "403", "429"} <= set(operation["responses"]), (path, method)


def test_every_request_and_response_has_an_example_true_to_its_schema(schema):
    components = schema["components"]["schemas"]
    checked = 0
    for path, method, operation in _operations(schema):
        bodies = [("request", operation["requestBody"]["content"])] if "requestBody" in operation else []
        bodies += [
            (status, response.get("content", {})) for status, response in operation["responses"].items()
        ]
        for where, content in bodies:
            for media_type, media in content.items():
                if media_type.startswith("image/"):
                    continue  # a picture has no JSON example
                examples = media.get("examples")
                assert examples, f"{method.upper()} {path} {where} {media_type} has no example"
                validator = jsonschema.Draft202012Validator(_json_schema(media["schema"], components))
                for name, example in examples.items():
                    errors = [e.message for e in validator.iter_errors(example["value"])]
                    assert not errors, (method, path, where, name, errors)
                    checked += 1
    assert checked > 50


@pytest.mark.parametrize("path", ["/api/v1/docs/", "/api/v1/redoc/"])
def test_interactive_docs_are_served_from_our_own_static_files(path):
    response = Client().get(path)
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/" in html
    assert "cdn." not in html


def test_every_post_handler_is_idempotent():
    posts = _post_views()
    assert len(posts) >= 3
    for view_class in posts:
        assert getattr(view_class.post, "idempotent", False), view_class
