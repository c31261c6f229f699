"""A path under /api/ or /hooks/ that matches no route answers JSON; pages keep Django's HTML 404."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/api/v1/no-such-thing/", "/api/v1/executions/0.5/", "/hooks/nothing/"])
def test_machine_paths_answer_json_404(path, django_user_model):
    client = Client()
    client.force_login(django_user_model.objects.create_user("someone"))
    response = client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}


def test_page_paths_keep_the_html_404():
    response = Client().get("/no-such-page/at-all/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_an_anonymous_api_request_is_401_with_the_scheme():
    response = Client().get("/api/v1/projects/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json()["detail"]
