"""Tokens: the service accepts only those it issued, and its identity endpoint wants its secret."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request

import jwt

from tests.local_service.helpers import api_call, workspace_path


def _claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_api_refuses_unsigned_foreign_and_storage_tokens_with_azure_error_shape(aml_service):
    path = workspace_path(aml_service) + "/computes"
    good = aml_service.token()
    assert api_call(aml_service, "GET", path, token=good)[0] == 200
    claims = _claims(good)
    unsigned = jwt.encode(claims, None, algorithm="none")
    foreign = jwt.encode(claims, "someone-elses-signing-key-32-bytes!", algorithm="HS256")
    storage = aml_service.token("https://storage.azure.com")
    for token, code in [
        (unsigned, "InvalidAuthenticationToken"),
        (foreign, "InvalidAuthenticationToken"),
        (storage, "InvalidAuthenticationTokenAudience"),
        (None, "AuthenticationFailed"),
    ]:
        status, headers, body = api_call(aml_service, "GET", path, token=token)
        assert status == 401 and body["error"]["code"] == code
        assert headers["WWW-Authenticate"].startswith("Bearer ")


def test_list_secrets_refuses_a_foreign_token(aml_service):
    path = workspace_path(aml_service) + "/datastores/workspaceblobstore/listSecrets"
    foreign = jwt.encode(_claims(aml_service.token()), "x" * 32, algorithm="HS256")
    status, _, body = api_call(aml_service, "POST", path, token=foreign)
    assert status == 401 and "sasToken" not in json.dumps(body)
    assert api_call(aml_service, "POST", path)[2]["sasToken"]  # the service's own token: a SAS


def test_identity_endpoint_refuses_a_request_without_its_secret(aml_service):
    url = aml_service.info["msi_endpoint"] + "?api-version=2017-09-01&resource=https://x"
    tls = ssl.create_default_context(cafile=aml_service.ca_bundle)
    for secret in (None, "not-the-secret"):
        req = urllib.request.Request(url)
        if secret:
            req.add_header("secret", secret)
        try:
            urllib.request.urlopen(req, context=tls)
            raise AssertionError("a token without the secret")
        except urllib.error.HTTPError as err:
            assert err.code == 401 and "access_token" not in json.loads(err.read())
