"""Providers (client secret write-only), credentials (tokens never shown, delete allowed), repositories
(read-only), clusters (kubeconfig write-only)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from devops.models import Cluster, SourceCodeCredential, SourceCodeProviderConfig, SourceCodeRepository

pytestmark = pytest.mark.django_db


# --- provider configs -------------------------------------------------------------------------------------
def provider_url(world) -> str:
    return reverse("admin:devops_sourcecodeproviderconfig_change", args=[world.provider.pk])


def test_provider_secret_is_kept_when_left_empty_replaced_when_given_and_cleared_on_request(
    staff, world, admin_helpers
):
    page = staff.get(provider_url(world))
    admin_helpers.assert_no_secret(page.content, world.all_secrets(), "the provider page")
    assert b'type="password"' in page.content
    data = admin_helpers.form_data(page)
    assert data["client_secret"] == ""
    data["client_id"] = "client-id-2"
    assert staff.post(provider_url(world), data).status_code == 302
    row = SourceCodeProviderConfig.objects.get(pk=world.provider.pk)
    assert (row.client_id, row.client_secret) == ("client-id-2", world.secrets["provider client secret"])

    data["client_secret"] = "s3cr3t-NEW-client"
    assert staff.post(provider_url(world), data).status_code == 302
    assert SourceCodeProviderConfig.objects.get(pk=world.provider.pk).client_secret == "s3cr3t-NEW-client"
    assert b"s3cr3t-NEW-client" not in staff.get(provider_url(world)).content

    data["client_secret"] = ""
    data["clear_client_secret"] = "on"
    assert staff.post(provider_url(world), data).status_code == 302
    assert SourceCodeProviderConfig.objects.get(pk=world.provider.pk).client_secret == ""
    listing = staff.get(reverse("admin:devops_sourcecodeproviderconfig_changelist")).content
    assert b"icon-no.svg" in listing


def test_a_new_provider_and_a_refused_one_never_echo_the_secret(staff, world, admin_helpers):
    add = reverse("admin:devops_sourcecodeproviderconfig_add")
    data = admin_helpers.form_data(staff.get(add))
    data.update(
        {"provider": "gitlab", "host": "https://gitlab.example.com", "client_id": "gl", "client_secret": "s3cr3t-GL"}
    )
    data["enabled"] = "on"
    assert staff.post(add, data).status_code == 302
    row = SourceCodeProviderConfig.objects.get(provider="gitlab", host="https://gitlab.example.com")
    assert row.client_secret == "s3cr3t-GL" and row.enabled
    # The same provider and host again: refused (unique), and the posted secret is not echoed.
    data["client_secret"] = "s3cr3t-SECOND-GL"
    response = staff.post(add, data)
    assert response.status_code == 200 and b"already exists" in response.content
    assert b"s3cr3t-SECOND-GL" not in response.content


def test_provider_list_searches_the_host(staff, world):
    SourceCodeProviderConfig.objects.create(provider="gitea", host="https://gitea.internal.example", client_id="x")
    listing = staff.get(reverse("admin:devops_sourcecodeproviderconfig_changelist") + "?q=gitea.internal")
    assert b"gitea.internal.example" in listing.content
    assert listing.context["cl"].result_count == 1


# --- credentials and repositories -----------------------------------------------------------------------------
def test_credentials_are_read_only_and_can_be_deleted(staff, world):
    change = reverse("admin:devops_sourcecodecredential_change", args=[world.credential.pk])
    assert staff.get(reverse("admin:devops_sourcecodecredential_add")).status_code == 403
    response = staff.post(change, {"login": "changed"})
    assert response.status_code == 403
    listing = staff.get(reverse("admin:devops_sourcecodecredential_changelist") + "?q=octo-login")
    assert listing.context["cl"].result_count == 1
    by_user = staff.get(
        reverse("admin:devops_sourcecodecredential_changelist") + f"?q={world.credential.user.username}"
    )
    assert by_user.context["cl"].result_count == 1
    delete = reverse("admin:devops_sourcecodecredential_delete", args=[world.credential.pk])
    assert staff.post(delete, {"post": "yes"}).status_code == 302
    assert not SourceCodeCredential.objects.filter(pk=world.credential.pk).exists()
    assert not SourceCodeRepository.objects.filter(pk=world.repository.pk).exists()


def test_repositories_are_read_only_and_searchable(staff, world):
    listing = staff.get(reverse("admin:devops_sourcecoderepository_changelist") + "?q=octo/app")
    assert listing.context["cl"].result_count == 1
    assert staff.get(reverse("admin:devops_sourcecoderepository_add")).status_code == 403
    change = reverse("admin:devops_sourcecoderepository_change", args=[world.repository.pk])
    assert staff.post(change, {"url": "https://evil.example"}).status_code == 403
    assert SourceCodeRepository.objects.get(pk=world.repository.pk).url == "https://github.com/octo/app"


# --- clusters --------------------------------------------------------------------------------------------------
def cluster_url(world) -> str:
    return reverse("admin:devops_cluster_change", args=[world.cluster.pk])


def test_kubeconfig_is_write_only_and_empty_keeps_it(staff, world, admin_helpers):
    page = staff.get(cluster_url(world))
    admin_helpers.assert_no_secret(page.content, world.all_secrets(), "the cluster page")
    data = admin_helpers.form_data(page)
    before = Cluster.objects.get(pk=world.cluster.pk).kubeconfig
    assert assert_kept(staff, world, data, before)
    data["kubeconfig"] = admin_helpers.kubeconfig("s3cr3t-ROTATED-kube")
    assert staff.post(cluster_url(world), data).status_code == 302
    assert "s3cr3t-ROTATED-kube" in Cluster.objects.get(pk=world.cluster.pk).kubeconfig
    assert b"s3cr3t-ROTATED-kube" not in staff.get(cluster_url(world)).content


def assert_kept(staff, world, data, before) -> bool:
    assert data["kubeconfig"] == ""
    assert staff.post(cluster_url(world), data).status_code == 302
    return Cluster.objects.get(pk=world.cluster.pk).kubeconfig == before


@pytest.mark.parametrize(
    ("kubeconfig", "message"),
    [
        ("token: s3cr3t-BROKEN\n  : [unclosed", b"the kubeconfig is not valid YAML (line"),
        ("just-a-s3cr3t-BROKEN-string", b"the kubeconfig must be a YAML mapping"),
        ('{"users": [{"user": {"token": "s3cr3t-BROKEN"}}]}', b"the kubeconfig has no &#x27;clusters&#x27; list"),
    ],
)
def test_a_bad_kubeconfig_is_refused_without_quoting_it(staff, world, admin_helpers, kubeconfig, message):
    before = Cluster.objects.get(pk=world.cluster.pk).kubeconfig
    data = admin_helpers.form_data(staff.get(cluster_url(world)))
    data["kubeconfig"] = kubeconfig
    response = staff.post(cluster_url(world), data)
    assert response.status_code == 200
    assert message in response.content
    assert b"s3cr3t-BROKEN" not in response.content
    assert Cluster.objects.get(pk=world.cluster.pk).kubeconfig == before


def test_a_cluster_needs_a_kubeconfig_unless_in_cluster(staff, world, admin_helpers, h):
    add = reverse("admin:devops_cluster_add")
    data = admin_helpers.form_data(staff.get(add))
    data["name"] = h.unique_name("c")
    response = staff.post(add, data)
    assert response.status_code == 200 and b"give a kubeconfig, or tick in-cluster" in response.content
    data["in_cluster"] = "on"
    assert staff.post(add, data).status_code == 302
    assert Cluster.objects.get(name=data["name"]).in_cluster
    # Clearing the stored kubeconfig of a cluster that needs it is refused too.
    data = admin_helpers.form_data(staff.get(cluster_url(world)))
    data["clear_kubeconfig"] = "on"
    response = staff.post(cluster_url(world), data)
    assert response.status_code == 200 and b"give a kubeconfig" in response.content
    assert Cluster.objects.get(pk=world.cluster.pk).kubeconfig


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"provider": "git"}, b"plain git has no sign-in"),
        ({"host": "git.example.com"}, b"expected the base URL"),
        ({"host": "ftp://git.example.com"}, b"expected the base URL"),
        ({"host": "https://admin:s3cr3t-HOST-pw@git.example.com"}, b"must not contain a user or password"),
        ({"host": "https://git.example.com/?x=1"}, b"must not have a query"),
    ],
)
def test_provider_fields_are_checked(staff, world, admin_helpers, changes, message):
    data = admin_helpers.form_data(staff.get(provider_url(world)))
    data.update(changes)
    response = staff.post(provider_url(world), data)
    assert response.status_code == 200 and message in response.content
    assert b"s3cr3t-HOST-pw" not in response.content
    row = SourceCodeProviderConfig.objects.get(pk=world.provider.pk)
    assert (row.provider, row.host) == ("github", "")


def test_a_self_hosted_provider_url_loses_its_trailing_slash(staff, world, admin_helpers):
    data = admin_helpers.form_data(staff.get(provider_url(world)))
    data["host"] = "https://github.example.com/"
    assert staff.post(provider_url(world), data).status_code == 302
    assert SourceCodeProviderConfig.objects.get(pk=world.provider.pk).host == "https://github.example.com"


def test_an_untouched_secret_field_is_not_recorded_as_changed(staff, world, admin_helpers):
    from django.contrib.admin.models import LogEntry

    data = admin_helpers.form_data(staff.get(provider_url(world)))
    data["client_id"] = "client-id-3"
    assert staff.post(provider_url(world), data).status_code == 302
    entry = LogEntry.objects.filter(
        content_type__model="sourcecodeproviderconfig", object_id=str(world.provider.pk)
    ).latest("action_time")
    assert "Client id" in entry.get_change_message() and "secret" not in entry.get_change_message().lower()
    data["client_secret"] = "s3cr3t-AGAIN"
    assert staff.post(provider_url(world), data).status_code == 302
    entry = LogEntry.objects.filter(
        content_type__model="sourcecodeproviderconfig", object_id=str(world.provider.pk)
    ).latest("action_time")
    assert "Client secret" in entry.get_change_message()
    history = staff.get(reverse("admin:devops_sourcecodeproviderconfig_history", args=[world.provider.pk]))
    assert b"s3cr3t-AGAIN" not in history.content
